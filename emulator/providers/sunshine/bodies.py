"""Request bodies of the v2 API, checked as the provider's JSON-schema validator would: strict types, the
spec's lengths and enums, unknown properties ignored. A refusal is 400 `bad_request` with a title in the
validator's words (the spec's example: "should have required property 'displayName'")."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from .errors import bad_request

MAX_BODY_DEPTH = 64  # [I] objects and arrays within one another; far past any real body, well inside the export
METADATA_LIMIT = 4096  # [C] bytes of metadata per user, conversation or app
TRIGGERS = frozenset(
    {  # [C] the spec's webhook triggers
        "client:add",
        "client:remove",
        "client:update",
        "conversation:create",
        "conversation:join",
        "conversation:leave",
        "conversation:remove",
        "conversation:message",
        "conversation:message:delivery:channel",
        "conversation:message:delivery:failure",
        "conversation:message:delivery:user",
        "conversation:postback",
        "conversation:read",
        "conversation:referral",
        "conversation:typing",
        "passthrough:messaging",
        "user:merge",
        "user:update",
        "user:remove",
        "switchboard:acceptControl",
        "switchboard:acceptControl:failure",
        "switchboard:offerControl",
        "switchboard:offerControl:failure",
        "switchboard:passControl",
        "switchboard:passControl:failure",
        "switchboard:releaseControl",
        "*",
    }
)
# [C] the field a content of each type cannot do without ([I] text: one of text, actions, htmlText, markdownText)
CONTENT_REQUIRES = {
    "text": ("text", "actions", "htmlText", "markdownText"),
    "image": ("mediaUrl",),
    "file": ("mediaUrl",),
    "carousel": ("items",),
    "list": ("items",),
    "location": ("coordinates",),
    "form": ("fields",),
    "formResponse": ("fields",),
    "template": ("template",),
}

Text = Annotated[StrictStr, Field(min_length=1)]
WEBHOOK_TARGET = r"^https?://[^\s/?#]+(?:[/?#]\S*)?$"  # [I] an http(s) URL with a host and no whitespace


# [C] the spec's `format: uri` (avatarUrl, iconUrl) and `format: email` (profile.email); [I] enforced as a validator
# with formats would: an absolute URI, an address with one @ and a dotted domain
URI = r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
FORMAT_NAMES = {URI: "uri", EMAIL: "email"}


def short(limit: int) -> FieldInfo:
    """The bounds of a non-empty string of at most `limit` characters: `Annotated[StrictStr, short(100)]`."""
    return Field(min_length=1, max_length=limit)


def formatted(limit: int, pattern: str) -> FieldInfo:
    """As `short`, the string also matching `pattern`."""
    return Field(min_length=1, max_length=limit, pattern=pattern)


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False, populate_by_name=True)


def check_metadata(value: dict | None, owner: str) -> dict | None:
    if value is None:
        return None
    for key, item in value.items():
        if not isinstance(item, (str, int, float, bool)) or item is None:
            raise ValueError(f"{owner} metadata is a flat object of strings, numbers and booleans ({key!r})")
    if len(json.dumps(value).encode()) > METADATA_LIMIT:
        raise ValueError(f"{owner} metadata is limited to {METADATA_LIMIT} bytes in size.")
    return value


class ProfileBody(Body):
    givenName: Annotated[StrictStr, short(128)] | None = None
    surname: Annotated[StrictStr, short(128)] | None = None
    email: Annotated[StrictStr, formatted(128, EMAIL)] | None = None
    avatarUrl: Annotated[StrictStr, formatted(2048, URI)] | None = None
    locale: Annotated[StrictStr, short(64)] | None = None


class UserCreateBody(Body):
    externalId: Annotated[StrictStr, short(1024)] | None = None
    brandId: Annotated[StrictStr, short(24)] | None = None
    signedUpAt: Text | None = None
    toBeRetained: StrictBool | None = None
    profile: ProfileBody | None = None
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(lambda value: check_metadata(value, "User"))


class UserUpdateBody(Body):
    signedUpAt: Text | None = None
    toBeRetained: StrictBool | None = None
    profile: ProfileBody | None = None
    metadata: dict[str, Any] | None = None
    externalId: Any = None  # [I] refused below: the provider's externalId cannot change through PATCH

    _metadata = field_validator("metadata")(lambda value: check_metadata(value, "User"))

    @model_validator(mode="after")
    def _no_external_id(self) -> UserUpdateBody:
        if "externalId" in self.model_fields_set:
            raise ValueError("externalId cannot be updated")
        return self


class ParticipantRef(Body):
    """Names a user: by id or by externalId, never both."""

    userId: Text | None = None
    userExternalId: Text | None = None
    subscribeSDKClient: StrictBool | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> ParticipantRef:
        if (self.userId is None) == (self.userExternalId is None):
            raise ValueError("should have exactly one of userId or userExternalId")
        return self


class ConversationCreateBody(Body):
    type: Literal["personal", "sdkGroup"]
    participants: list[ParticipantRef] | None = Field(default=None, max_length=10)
    displayName: Annotated[StrictStr, short(100)] | None = None
    description: Annotated[StrictStr, short(100)] | None = None
    iconUrl: Annotated[StrictStr, formatted(2048, URI)] | None = None
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(lambda value: check_metadata(value, "Conversation"))


class ConversationUpdateBody(Body):
    displayName: Annotated[StrictStr, short(100)] | None = None
    description: Annotated[StrictStr, short(100)] | None = None
    iconUrl: Annotated[StrictStr, formatted(2048, URI)] | None = None
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(lambda value: check_metadata(value, "Conversation"))


class LeaveBody(Body):
    userId: Text | None = None
    userExternalId: Text | None = None
    participantId: Text | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> LeaveBody:
        if sum(v is not None for v in (self.userId, self.userExternalId, self.participantId)) != 1:
            raise ValueError("should have exactly one of userId, userExternalId or participantId")
        return self


class AuthorBody(Body):
    type: Literal["business", "user"]
    userId: Text | None = None
    userExternalId: Text | None = None
    brandId: Annotated[StrictStr, short(24)] | None = None
    displayName: Text | None = None
    avatarUrl: Annotated[StrictStr, formatted(2048, URI)] | None = None
    subtypes: list[Literal["AI", "activity"]] | None = Field(default=None, min_length=1, max_length=1)

    @model_validator(mode="after")
    def _user_named(self) -> AuthorBody:
        if self.type == "user" and (self.userId is None) == (self.userExternalId is None):
            raise ValueError("a user author has exactly one of userId or userExternalId")
        if self.type == "business" and (self.userId or self.userExternalId):
            raise ValueError("userId and userExternalId are only supported when type is user")
        return self

    def stored(self) -> dict:
        """The author as the API shows it back: never the write-only userExternalId or brandId."""
        return self.model_dump(exclude_none=True, exclude={"userExternalId", "brandId"})


class ContentBody(Body):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)

    type: Literal["text", "carousel", "file", "form", "formResponse", "image", "list", "location", "template"]
    text: Annotated[StrictStr, Field(max_length=4096)] | None = None

    @model_validator(mode="after")
    def _has_its_field(self) -> ContentBody:
        fields = {**(self.model_extra or {}), "text": self.text}
        wanted = CONTENT_REQUIRES[self.type]
        if all(fields.get(name) in (None, "", [], {}) for name in wanted):
            raise ValueError(f"should have required property '{wanted[0]}'")
        return self


class MessagePostBody(Body):
    author: AuthorBody
    content: ContentBody
    metadata: dict[str, Any] | None = None
    destination: dict[str, Any] | None = None
    override: dict[str, Any] | None = None
    schema_: StrictStr | None = Field(default=None, alias="schema")

    _metadata = field_validator("metadata")(lambda value: check_metadata(value, "Message"))


class ActivityBody(Body):
    author: AuthorBody
    type: Literal["conversation:read", "typing:start", "typing:stop"]

    @model_validator(mode="after")
    def _user_reads_only(self) -> ActivityBody:
        if self.author.type == "user" and self.type != "conversation:read":
            raise ValueError("a user author may only send conversation:read")
        return self


class ClientCreateBody(Body):
    class MatchCriteria(Body):
        model_config = ConfigDict(strict=True, extra="allow")
        type: Literal["mailgun", "messagebird", "twilio", "whatsapp"]
        integrationId: Text
        primary: StrictBool = True
        phoneNumber: Text | None = None  # [C] required by messagebird, twilio and whatsapp
        address: Text | None = None  # [C] required by mailgun

        @model_validator(mode="after")
        def _reachable(self) -> ClientCreateBody.MatchCriteria:
            wanted = "address" if self.type == "mailgun" else "phoneNumber"
            if getattr(self, wanted) is None:
                raise ValueError(f".matchCriteria should have required property '{wanted}'")
            return self

        def channel_address(self) -> str:
            return self.address if self.type == "mailgun" else self.phoneNumber  # type: ignore[return-value]

    class Confirmation(Body):
        type: Literal["immediate", "userActivity", "prompt"]

    class Target(Body):
        conversationId: Text

    matchCriteria: MatchCriteria
    confirmation: Confirmation
    target: Target


class DisplayNameBody(Body):
    displayName: Annotated[StrictStr, short(100)]


class AppSettingsBody(Body):
    """[C] the spec's appSettings: typed, none nullable; [I] unknown settings are dropped."""

    conversationRetentionSeconds: Annotated[StrictInt, Field(ge=0)] = None  # type: ignore[assignment]
    maskCreditCardNumbers: StrictBool = None  # type: ignore[assignment]
    useAnimalNames: StrictBool = None  # type: ignore[assignment]
    echoPostback: StrictBool = None  # type: ignore[assignment]
    ignoreAutoConversationStart: StrictBool = None  # type: ignore[assignment]
    multiConvoEnabled: StrictBool = None  # type: ignore[assignment]
    appLocalizationEnabled: StrictBool = None  # type: ignore[assignment]
    endSessionEnabled: StrictBool = None  # type: ignore[assignment]
    disableConversationReopen: StrictBool = None  # type: ignore[assignment]

    def given(self) -> dict[str, Any]:
        """The settings the body names (an omitted one is left as it was)."""
        return self.model_dump(exclude_unset=True)


class AppBody(Body):
    displayName: Annotated[StrictStr, short(100)] | None = None
    settings: AppSettingsBody | None = None
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(lambda value: check_metadata(value, "App"))


class AppCreateBody(AppBody):
    displayName: Annotated[StrictStr, short(100)]


class WebhookBody(Body):
    target: Annotated[StrictStr, Field(min_length=1, max_length=2048, pattern=WEBHOOK_TARGET)] | None = None
    triggers: list[StrictStr] | None = Field(default=None, min_length=1)
    includeFullUser: StrictBool | None = None
    includeFullSource: StrictBool | None = None

    @field_validator("triggers")
    @classmethod
    def _known_triggers(cls, triggers: list[str] | None) -> list[str] | None:
        unknown = sorted(set(triggers or ()) - TRIGGERS)
        if unknown:
            raise ValueError(f"unknown trigger {unknown[0]!r}")
        return triggers


class WebhookCreateBody(WebhookBody):
    target: Annotated[StrictStr, Field(min_length=1, max_length=2048, pattern=WEBHOOK_TARGET)]
    triggers: list[StrictStr] = Field(min_length=1)


class IntegrationCreateBody(Body):
    type: StrictStr  # [I] the emulator keeps custom integrations only
    displayName: Annotated[StrictStr, short(100)] | None = None
    webhooks: list[WebhookCreateBody] = Field(min_length=1, max_length=1)

    @field_validator("type")
    @classmethod
    def _custom(cls, value: str) -> str:
        if value != "custom":
            raise ValueError("Invalid integration type")  # [C] the spec's title for this 400
        return value


B = TypeVar("B", bound=BaseModel)


def parse_body(model: type[B], data: Any) -> B:
    """Validate a JSON body; the first problem becomes the 400 title."""
    if not isinstance(data, dict):
        raise bad_request("should be object", "body_not_object")
    problem = _unstorable(data)
    if problem == "non_finite":  # Python reads NaN and Infinity; JSON has neither, nor does the provider
        raise bad_request("Invalid JSON body", "malformed_json")
    if problem == "too_deep":
        raise bad_request(f"Request body is nested deeper than {MAX_BODY_DEPTH} levels", "body_too_deep")  # [I]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad_request(_title(exc), "invalid_body") from None


def _unstorable(data: Any) -> str | None:
    """What keeps a parsed body out of the state: a NaN or an infinity, or nesting deeper than the state's
    export can serialise (the body sits some ten levels down in it). Walked without recursion."""
    pending = [(data, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return "non_finite"
        if isinstance(item, (dict, list)):
            if depth > MAX_BODY_DEPTH:
                return "too_deep"
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return None


_TYPE_WORDS = {
    "string_type": "should be string",
    "bool_type": "should be boolean",
    "int_type": "should be integer",
    "dict_type": "should be object",
    "model_type": "should be object",
    "model_attributes_type": "should be object",
    "list_type": "should be array",
    "literal_error": "should be equal to one of the allowed values",
    "string_too_short": "should NOT be shorter than {min_length} characters",
    "string_too_long": "should NOT be longer than {max_length} characters",
    "too_short": "should NOT have fewer than {min_length} items",
    "too_long": "should NOT have more than {max_length} items",
    "string_pattern_mismatch": "should be a URL",
    "greater_than_equal": "should be >= {ge}",
    "less_than_equal": "should be <= {le}",
}


def _title(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    location = [
        part for part in first["loc"] if not (isinstance(part, str) and part.startswith(("function-", "tagged-union")))
    ]
    location = [part for part in location if part not in ("str", "none", "bool", "int", "dict[str,any]", "list[str]")]
    if first["type"] == "missing":
        *parents, name = location
        prefix = _data_path(parents)
        return f"{prefix} should have required property '{name}'".strip()
    if first["type"] == "value_error":
        return first["msg"].removeprefix("Value error, ")
    words = _TYPE_WORDS.get(first["type"])
    format_name = FORMAT_NAMES.get((first.get("ctx") or {}).get("pattern", ""))
    if first["type"] == "string_pattern_mismatch" and format_name:
        words = f'should match format "{format_name}"'  # the validator's words for a format
    elif first["type"] == "string_pattern_mismatch" and first["ctx"]["pattern"] != WEBHOOK_TARGET:
        words = 'should match pattern "{pattern}"'  # the validator's words for a pattern (a webhook target is a URL)
    message = words.format(**(first.get("ctx") or {})) if words else first["msg"]
    return f"{_data_path(location)} {message}".strip()


def _data_path(location: list) -> str:
    """`["profile", "givenName"]` -> `.profile.givenName`, as the provider's validator names a field."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
