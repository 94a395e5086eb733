"""Messaging Interactions (CSDS `msgHist`): the emulated conversations as history records, searched by
start time or by conversation id.

Reference: liveperson-outbound.md section 7 and the Messaging Interactions API's Conversations method.
Authorised with a live Login Service bearer of the account (`Authorization: Bearer`); [I] OAuth1 app keys are
not emulated. `POST .../conversations/search?offset&limit&sort` takes `start {from, to}` (required, epoch ms,
rounded out to 10 minutes, at most three months), `end`, `status` and `contentToRetrieve`;
`POST .../conversations/conversation/search?source=` takes `conversationId` or `conversationIds`. The other
documented filters are refused with 400 rather than silently ignored. [I]
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import Response, request

from ...core.store import Namespace
from ...web import current_namespace, json_response, read_json_body, runtime
from .conversations import ACCEPT_STATUS_EVENT, AGENT, HOSTED_FILE, RICH_CONTENT_EVENT
from .errors import LivePersonError
from .http import find_account, operation
from .login import session_of_bearer, user_id_of, user_pid_of
from .models import Account, Conversation, MessagingEvent, User

PREFIX = "/messaging_history/"
BASE = PREFIX + "api/account/<account_id>/conversations"
ROUND_MS = 10 * 60 * 1000  # [C] from / to rounded to the last / next 10 minutes
MAX_RANGE_MS = 92 * 24 * 3600 * 1000  # [C] "three months"; [I] 92 days
DEFAULT_LIMIT, MAX_LIMIT = 50, 100  # [C]
MAX_IDS = 100  # [C] conversationIds per call
MAX_SOURCE = 20  # [C] `source` of the by-id search
STATUSES = ("OPEN", "CLOSE")
SORTS = ("start:asc", "start:desc", "end:asc", "end:desc")
DEFAULT_SORT = "start:asc"  # [I] the default order is not documented
FILTERS = ("start", "end", "status", "contentToRetrieve")  # emulated; other documented filters are refused [I]
CONTENTS = (
    "messageRecords",
    "messageStatuses",
    "agentParticipants",
    "consumerParticipants",
    "transfers",
    "interactions",
    "dialogs",
)
UNASSIGNED = "Unassigned"  # [C] the example's latestSkillName / latestAgentGroupName for -1


def history_time(ms: int) -> str:
    """[C] `2016-08-29 14:30:24.565+0000`."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}+0000"


class History:
    """The account's conversations as Messaging Interactions records (hold the store lock)."""

    def __init__(self, namespace: Namespace, account: Account) -> None:
        self._account = account
        self._now_ms = int(namespace.clock.now() * 1000)
        self._namespace = namespace
        self._agents = {user_pid_of(account.id, user): user for user in account.users}

    def authorize(self, authorization: str) -> None:
        scheme, _, bearer = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not bearer.strip():
            raise LivePersonError(401, "Authorization: Bearer <bearer> is required", "missing_bearer")  # [I]
        if (
            session_of_bearer(self._account, bearer.strip(), self._namespace.clock.now(), self._namespace.tokens)
            is None
        ):
            raise LivePersonError(401, "the bearer is not valid", "invalid_bearer")

    def search(self, body: object, offset: int, limit: int, sort: str) -> tuple[list[dict], int]:
        """`conversations/search`: one page of records (sorted) and how many match."""
        if not isinstance(body, dict):
            raise LivePersonError(400, "request body must be a JSON object", "body_not_object")
        unknown = sorted(set(body) - set(FILTERS))
        if unknown:
            raise LivePersonError(400, f"filter {unknown[0]} is not supported by the emulator", "unsupported_filter")
        if "start" not in body:
            raise LivePersonError(400, "start is required", "missing_start")  # [C]
        start = _range(body["start"], "start", self._now_ms)
        end = _range(body["end"], "end", self._now_ms) if "end" in body else None
        statuses = _statuses(body.get("status", list(STATUSES)))
        contents = _contents(body.get("contentToRetrieve"))
        found = [
            c
            for c in self._account.conversations.values()
            if start[0] <= _ms(c.started_at) <= start[1]
            and c.state in statuses
            and (end is None or (c.ended_at is not None and end[0] <= _ms(c.ended_at) <= end[1]))
        ]
        field, _, order = sort.partition(":")
        key = (
            (lambda c: c.started_at)
            if field == "start"
            else (lambda c: c.ended_at if c.ended_at is not None else float("inf"))
        )
        found.sort(key=key, reverse=order == "desc")
        return [self.record(c, contents) for c in found[offset : offset + limit]], len(found)

    def by_ids(self, body: object) -> list[dict]:
        """`conversations/conversation/search`: the records of `conversationId` or `conversationIds` (unknown ones left out)."""
        if not isinstance(body, dict):
            raise LivePersonError(400, "request body must be a JSON object", "body_not_object")
        ids = body.get("conversationIds", [body.get("conversationId")] if "conversationId" in body else None)
        if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS or not all(isinstance(i, str) for i in ids):
            raise LivePersonError(
                400,
                f"conversationId, or conversationIds (1 to {MAX_IDS} strings), is required",
                "missing_conversation_id",
            )
        contents = _contents(body.get("contentToRetrieve"))
        found = [self._account.conversations.get(i) for i in dict.fromkeys(ids)]
        return [self.record(c, contents) for c in found if c is not None]

    # --- records ---------------------------------------------------------------------------------------

    def record(self, conversation: Conversation, contents: tuple[str, ...]) -> dict:
        parts = {
            "messageRecords": lambda: [
                self._message(conversation, e) for e in conversation.events if e.event["type"] != ACCEPT_STATUS_EVENT
            ],
            "messageStatuses": lambda: self._statuses(conversation),
            "agentParticipants": lambda: [self._agent(conversation, pid) for pid in conversation.active_agents()],
            "consumerParticipants": lambda: [self._consumer(conversation)],
            "transfers": lambda: [],
            "interactions": lambda: self._interactions(conversation),
            "dialogs": lambda: [self._dialog(conversation)],
        }
        return {"info": self._info(conversation), **{name: parts[name]() for name in CONTENTS if name in contents}}

    def _info(self, conversation: Conversation) -> dict:
        start, end = _ms(conversation.started_at), _end_ms(conversation)
        latest = conversation.assigned_agent() or next(reversed(conversation.active_agents()), None)
        agent = self._agents.get(latest) if latest else None
        earlier = [
            c
            for c in self._account.conversations.values()
            if c.consumer_id == conversation.consumer_id and c.started_at < conversation.started_at
        ]
        info = {
            "startTime": history_time(start),
            "startTimeL": start,
            "endTime": history_time(end) if end != -1 else "undefined",
            "endTimeL": end,
            "duration": (end if end != -1 else self._now_ms) - start,
            "conversationId": conversation.id,
            "brandId": self._account.id,
            "latestAgentId": user_id_of(self._account.id, agent) if agent else "-1",
            "latestAgentNickname": agent.username if agent else "",
            "latestAgentFullName": agent.username if agent else "",
            "latestAgentLoginName": agent.username if agent else "",
            "agentDeleted": False,
            "latestSkillId": int(conversation.skill_id) if conversation.skill_id.lstrip("-").isdigit() else -1,
            "latestSkillName": UNASSIGNED if conversation.skill_id == "-1" else conversation.skill_id,
            "source": "APP",  # [I] no source is kept
            "status": conversation.state,
            "fullDialogStatus": conversation.state,
            "firstConversation": not earlier,
            "mcs": 0,
            "alertedMCS": 0,  # [I] no scoring
            "device": "undefined",
            "operatingSystem": "NA",
            "latestAgentGroupId": -1,
            "latestAgentGroupName": UNASSIGNED,
            "latestQueueState": "ACTIVE" if conversation.assigned_agent() else "IN_QUEUE",
            "isPartial": False,
        }
        if conversation.close_reason is not None:
            info["closeReason"] = conversation.close_reason
        return info

    def _participant(self, conversation: Conversation, stored: MessagingEvent) -> tuple[str, str]:
        """(participantId, sentBy): [C] agents by their numeric user id, consumers by their id."""
        if stored.role == AGENT:
            agent = self._agents.get(stored.originator_id)
            return (user_id_of(self._account.id, agent) if agent else stored.originator_id), "Agent"
        return stored.originator_id, "Consumer"

    def _message(self, conversation: Conversation, stored: MessagingEvent) -> dict:
        event = stored.event
        if event["type"] == RICH_CONTENT_EVENT:
            kind, data = (
                "RICH_CONTENT",
                {"richContent": {"content": json.dumps(event["content"], separators=(",", ":"))}},
            )
        elif event.get("contentType") == HOSTED_FILE:
            kind, data = "HOSTED_FILE", {"file": event["message"]}
        else:
            kind, data = "TEXT_PLAIN", {"msg": {"text": event["message"]}}
        participant, sent_by = self._participant(conversation, stored)
        return {
            "type": kind,
            "messageData": data,
            "messageId": _message_id(conversation, stored.sequence),
            "seq": stored.sequence,
            "dialogId": conversation.id,
            "participantId": participant,
            "source": "APP",
            "time": history_time(stored.server_timestamp),
            "timeL": stored.server_timestamp,
            "device": "undefined",
            "sentBy": sent_by,
        }

    def _statuses(self, conversation: Conversation) -> list[dict]:
        statuses = []
        for stored in conversation.events:
            if stored.event["type"] != ACCEPT_STATUS_EVENT:
                continue
            participant, sent_by = self._participant(conversation, stored)
            for sequence in stored.event["sequenceList"]:
                statuses.append(
                    {
                        "messageId": _message_id(conversation, sequence),
                        "time": history_time(stored.server_timestamp),
                        "timeL": stored.server_timestamp,
                        "messageDeliveryStatus": stored.event["status"],
                        "dialogId": conversation.id,
                        "participantId": participant,
                        "participantType": sent_by,
                    }
                )
        return statuses

    def _joined_ms(self, conversation: Conversation, pid: str) -> int:
        """[I] an agent joins with its first event (no other join time is kept)."""
        first = next((e.server_timestamp for e in conversation.events if e.originator_id == pid), None)
        return first if first is not None else _ms(conversation.started_at)

    def _agent(self, conversation: Conversation, pid: str) -> dict:
        agent: User | None = self._agents.get(pid)
        joined = self._joined_ms(conversation, pid)
        name = agent.username if agent else pid
        bot = agent is not None and agent.app_key is not None
        return {
            "agentId": user_id_of(self._account.id, agent) if agent else pid,
            "agentLoginName": name,
            "agentNickname": name,
            "agentFullName": name,
            "agentDeleted": agent is None,
            "time": history_time(joined),
            "timeL": joined,
            "role": "AGENT",
            "userType": "2" if bot else "1",
            "userTypeName": "Bot" if bot else "Human",
            "agentGroupId": -1,
            "agentGroupName": UNASSIGNED,
            "permission": "ASSIGNED_AGENT",
            "dialogId": conversation.id,
        }

    def _consumer(self, conversation: Conversation) -> dict:
        consumer = self._account.consumers.get(conversation.consumer_id)
        profile = consumer.profile if consumer else {}
        start = _ms(conversation.started_at)
        shown = {
            "participantId": conversation.consumer_id,
            "time": history_time(start),
            "timeL": start,
            "joinTime": history_time(start),
            "joinTimeL": start,
            "dialogId": conversation.id,
        }
        for field, claim in (
            ("firstName", "given_name"),
            ("lastName", "family_name"),
            ("email", "email"),
            ("phone", "phone_number"),
        ):
            if isinstance(profile.get(claim), str):
                shown[field] = profile[claim]
        return shown

    def _interactions(self, conversation: Conversation) -> list[dict]:
        interactions = []
        for sequence, pid in enumerate(conversation.active_agents()):
            agent = self._agents.get(pid)
            joined = self._joined_ms(conversation, pid)
            name = agent.username if agent else pid
            interactions.append(
                {
                    "assignedAgentId": user_id_of(self._account.id, agent) if agent else pid,
                    "agentLoginName": name,
                    "agentNickname": name,
                    "agentFullName": name,
                    "interactionTime": history_time(joined),
                    "interactionTimeL": joined,
                    "interactiveSequence": sequence + 1,
                    "dialogId": conversation.id,
                }
            )
        return interactions

    def _dialog(self, conversation: Conversation) -> dict:
        start, end = _ms(conversation.started_at), _end_ms(conversation)
        dialog = {
            "dialogId": conversation.id,
            "status": conversation.state,
            "dialogType": "MAIN",
            "dialogChannelType": "MESSAGING",
            "startTime": history_time(start),
            "startTimeL": start,
            "skillId": conversation.skill_id,
        }
        if end != -1:
            dialog |= {"endTime": history_time(end), "endTimeL": end, "closeReason": conversation.close_reason}
        return dialog


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _end_ms(conversation: Conversation) -> int:
    return -1 if conversation.ended_at is None else _ms(conversation.ended_at)


def _message_id(conversation: Conversation, sequence: int) -> str:
    return f"ms::conv:{conversation.id}::msg:{sequence}"  # [C]


def _epoch_ms(value: object, where: str) -> int:
    if isinstance(value, str) and value.lstrip("-").isdigit():  # [C] the doc's examples send strings too
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not -1 <= value <= 10**14:
        raise LivePersonError(400, f"{where} must be an epoch time in milliseconds", "bad_time_range")
    return value


def _range(value: object, name: str, now_ms: int) -> tuple[int, int]:
    """`{from, to}` rounded out to 10 minutes; [I] `to` -1 (as in the doc's example) or omitted is now."""
    if not isinstance(value, dict) or "from" not in value:
        raise LivePersonError(400, f'{name} must be {{"from", "to"}}', "bad_time_range")
    low = _epoch_ms(value["from"], f"{name}.from")
    high = _epoch_ms(value.get("to", -1), f"{name}.to")
    high = now_ms if high == -1 else high
    low, high = low - low % ROUND_MS, high + (-high) % ROUND_MS
    if high < low or high - low > MAX_RANGE_MS:
        raise LivePersonError(400, f"{name} must span at most three months, from before to", "bad_time_range")
    return low, high


def _statuses(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(status in STATUSES for status in value):
        raise LivePersonError(400, "status must list OPEN and/or CLOSE", "bad_status")
    return tuple(value)


def _contents(value: object) -> tuple[str, ...]:
    """[C] the default content is every kind; [I] a kind the emulator does not hold (campaign, sdes, ...) adds nothing."""
    if value is None:
        return CONTENTS
    if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
        raise LivePersonError(400, "contentToRetrieve must be a list of content types", "bad_content_to_retrieve")
    return tuple(kind for kind in CONTENTS if kind in value)


def _paging() -> tuple[int, int, str]:
    try:
        offset = int(request.args.get("offset", 0))
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise LivePersonError(400, "offset and limit must be numbers", "bad_paging") from None
    sort = request.args.get("sort", DEFAULT_SORT)
    if offset < 0 or not 1 <= limit <= MAX_LIMIT or sort not in SORTS:
        raise LivePersonError(400, f"offset >= 0, limit 1 to {MAX_LIMIT}, sort one of {', '.join(SORTS)}", "bad_paging")
    return offset, limit, sort


# --- routes: parse, call, serialise ----------------------------------------------------------------------


def _history(account_id: str) -> History:
    history = History(current_namespace(), find_account(account_id))
    history.authorize(request.headers.get("Authorization", ""))
    return history


def _link(rel: str, offset: int, limit: int) -> dict:
    return {"rel": rel, "href": f"{request.base_url}?limit={limit}&offset={offset}"}


@operation("POST", BASE + "/search")
def search_conversations(account_id: str) -> Response:
    offset, limit, sort = _paging()
    body = read_json_body(empty=None)
    with runtime().store.lock:
        records, count = _history(account_id).search(body, offset, limit, sort)
    metadata: dict = {"count": count, "self": _link("self", offset, limit)}
    if offset + limit < count:
        metadata["next"] = _link("next", offset + limit, limit)
    if offset > 0:
        metadata["prev"] = _link("prev", max(offset - limit, 0), limit)
    metadata["shardsStatusResult"] = {"partialResult": False}
    return json_response({"_metadata": metadata, "conversationHistoryRecords": records})


@operation("POST", BASE + "/conversation/search")
def search_conversation_by_id(account_id: str) -> Response:
    source = request.args.get("source", "")
    body = read_json_body(empty=None)
    with runtime().store.lock:
        history = _history(account_id)
        if not source or len(source) > MAX_SOURCE:
            raise LivePersonError(400, f"source is required (at most {MAX_SOURCE} characters)", "bad_source")  # [C]
        records = history.by_ids(body)
    return json_response({"_metadata": {"count": len(records)}, "conversationHistoryRecords": records})
