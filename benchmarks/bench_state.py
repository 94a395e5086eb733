"""State growth benchmark: in-process latency and memory as the emulator's state grows, and the journal's bound.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_state.py [--rounds N] [--json PATH]

For each of 10, 10,000 and 100,000 (each size in a namespace of its own, all in one app, built once outside
the timing, directly through the store and models rather than HTTP), requests through the Flask test client,
the sizes alternating request by request (the order rotated every request), ITERATIONS per size and round:

i)   LivePerson `POST app/{connector}/authenticate?v=3.0` (an external JWT for the LP JWT) on an account
     whose namespace token registry has had N tokens issued (fingerprints of random tokens, with their
     subjects; the registry keeps at most `REGISTRY_LIMIT`, the oldest forgotten) and which remembers
     N consumers;
ii)  Sunshine `GET /v2/apps/{app}/users/{id}` (Basic) in an app of N users (bench_sunshine's `seed_app`);
iii) Sunshine `GET .../conversations/{id}/messages` (the newest page) in an app holding N messages: the
     listed conversation holds LISTED_MESSAGES at every size (the smallest size's all), so that every size
     answers the same page; the others hold the rest, at most MESSAGES_PER_CONVERSATION each (the provider's
     cap is 30,000).

Memory: what building the state left allocated (tracemalloc, the size's namespace only). The ratio is the
size's latency over the 10's in the same round.

iv)  the journal under a long run: a fresh app, JOURNAL_REQUESTS Domain API reads (`service/idp/baseURI.json`,
     each journaled); at each checkpoint the journal's entries, its deep size (the objects it holds,
     `gc.get_referents`), the process RSS and the median / p99 latency of the last 1,000 requests.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import gc
import json
import secrets
import sys
import time
import tracemalloc
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_foundation, also when run from elsewhere

from bench_foundation import (  # also puts the repository on sys.path when needed
    Figure,
    Run,
    Stats,
    bench_arguments,
    environment,
    figure,
    lp_account_seed,
    serialisable,
    table,
    warm_up,
)
from bench_sunshine import SunshineApp, answering, seed_app
from flask import Flask

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient
from emulator.config import EmulatorConfig
from emulator.core.clock import format_instant
from emulator.core.lifecycle import REGISTRY_LIMIT
from emulator.providers.liveperson.identity import token_subjects
from emulator.providers.liveperson.models import Consumer
from emulator.providers.liveperson.routes import PROVIDER as LP_PROVIDER
from emulator.providers.sunshine.models import PROVIDER as SUNSHINE_PROVIDER
from emulator.providers.sunshine.models import App, Conversation, Message, Participant, SunshineSeed, User

SIZES = (10, 10_000, 100_000)
ITERATIONS = 1500  # per round and size
MESSAGES_PER_CONVERSATION = 25_000
LISTED_MESSAGES = SIZES[0]  # the listed conversation's, at every size: each answers the same page
JOURNAL_CHECKPOINTS = (10_000, 100_000, 200_000)
JOURNAL_REQUESTS = JOURNAL_CHECKPOINTS[-1]
JOURNAL_WINDOW = 1_000  # requests timed before each checkpoint
MB = 1024 * 1024


# --- memory -----------------------------------------------------------------------------------------


def traced(build: Callable[[], Any]) -> tuple[Any, float]:
    """`build()` and the megabytes it left allocated (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return result, (after - before) / MB


SHARED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def deep_size(root: object) -> int:
    """Bytes of `root` and every object it reaches, classes, modules and functions left out."""
    seen: set[int] = set()
    pending = [root]
    total = 0
    while pending:
        item = pending.pop()
        if id(item) in seen or isinstance(item, SHARED):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        pending.extend(gc.get_referents(item))
    return total


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# --- i) LivePerson token registry -------------------------------------------------------------------


@dataclass
class Case:
    """One request per state size, and what building each size's state took."""

    name: str
    requests: dict[int, Callable[[], None]]
    memory_mb: dict[int, float]
    held: dict[int, str]  # what each size's state holds, for the report


def fill_registry(emulator: Flask, namespace: str, account_id: str, size: int) -> None:
    """`size` tokens issued in the namespace's registry, and `size` consumers on the account."""
    store = emulator.extensions["emulator"].store
    space = store.namespace(namespace)
    account = space.state(LP_PROVIDER).accounts[account_id]
    expires, now = time.time() + 3600, time.time()
    with store.lock:
        for _ in range(size):
            consumer_id = str(uuid.uuid4())
            space.tokens.issued(secrets.token_urlsafe(48), token_subjects(account_id, consumer_id), expires)
            account.consumers[consumer_id] = Consumer(consumer_id=consumer_id, kind="anonymous", first_seen=now)


def liveperson_case(emulator: Flask) -> Case:
    client = emulator.test_client()
    requests, memory, held = {}, {}, {}
    for size in SIZES:
        seed = lp_account_seed(settings={"ext_jwt_ttl": "1h"})
        account = seed["liveperson"]["accounts"][0]
        namespace = f"bench-state-lp-{size}-{secrets.token_hex(4)}"
        EmulatorClient(namespace=namespace, transport=AppTransport(emulator)).seed(seed)
        _, memory[size] = traced(partial(fill_registry, emulator, namespace, account["id"], size))
        idp = f"/api/account/{account['id']}"
        ext_jwt = client.post(f"{idp}/anonymous/authorize").get_json()["token"]
        path, body = f"{idp}/app/{account['connectors'][0]['id']}/authenticate", {"id_token": ext_jwt}
        requests[size] = answering(
            200, lambda path=path, body=body: client.post(path, query_string={"v": "3.0"}, json=body)
        )
        tokens = len(emulator.extensions["emulator"].store.namespace(namespace).tokens.export()["issued"])
        held[size] = f"{tokens:,} tokens held"
    return Case("LP authenticate?v=3.0", requests, memory, held)


# --- ii) Sunshine users, iii) Sunshine messages ---------------------------------------------------


def users_case(emulator: Flask) -> Case:
    client = emulator.test_client()
    requests, memory, held = {}, {}, {}
    for size in SIZES:
        app, memory[size] = traced(partial(seed_app, emulator, size))
        path, headers = app.path(f"users/{app.user_ids[size // 2]}"), app.basic
        requests[size] = answering(200, lambda path=path, headers=headers: client.get(path, headers=headers))
        held[size] = f"{size:,} users"
    return Case("Sunshine GET users/{id}", requests, memory, held)


def conversation_of(user: User, messages: int, now: str) -> Conversation:
    """A personal conversation of `user` holding `messages` business messages."""
    conversation = Conversation(
        type="personal",
        isDefault=True,
        lastUpdatedAt=now,
        createdAt=now,
        participants=[Participant(userId=user.id, userExternalId=user.externalId)],
    )
    author, source = {"type": "business", "displayName": "Bench"}, {"type": "api:conversations"}
    conversation.messages = [
        Message(received=now, author=author, content={"type": "text", "text": f"message {number}"}, source=source)
        for number in range(messages)
    ]
    user.conversations.append(conversation.id)
    return conversation


def message_app(emulator: Flask, size: int) -> tuple[SunshineApp, str]:
    """An app holding `size` messages, placed through the store as bench_sunshine places its big app: a
    conversation of LISTED_MESSAGES, the rest in conversations of at most MESSAGES_PER_CONVERSATION; the app
    and the id of the first, the one listed."""
    key = {"id": f"app_{secrets.token_hex(12)}", "secret": secrets.token_urlsafe(18)}
    app = App(id=secrets.token_hex(12), keys=[key])
    now = format_instant(time.time())
    counts = [min(size, LISTED_MESSAGES)]
    counts += [
        min(MESSAGES_PER_CONVERSATION, size - first) for first in range(counts[0], size, MESSAGES_PER_CONVERSATION)
    ]
    for number, count in enumerate(counts):
        user = User(externalId=f"bench-user-{number}")
        conversation = conversation_of(user, count, now)
        app.add_user(user)
        app.conversations[conversation.id] = conversation
    namespace = f"bench-state-messages-{size}-{secrets.token_hex(4)}"
    store = emulator.extensions["emulator"].store
    store.seed(namespace, {"sunshine": SunshineSeed.model_validate({"apps": [{"id": app.id, "keys": [key]}]})})
    with store.lock:
        store.namespace(namespace).state(SUNSHINE_PROVIDER).apps[app.id] = app
        store.reindex(namespace)
    return SunshineApp(app.id, key["id"], key["secret"], list(app.users)), next(iter(app.conversations))


def messages_case(emulator: Flask) -> Case:
    client = emulator.test_client()
    requests, memory, held = {}, {}, {}
    for size in SIZES:
        (app, conversation_id), memory[size] = traced(partial(message_app, emulator, size))
        path, headers = app.path(f"conversations/{conversation_id}/messages"), app.basic
        requests[size] = answering(200, lambda path=path, headers=headers: client.get(path, headers=headers))
        held[size] = f"{size:,} messages, {min(size, LISTED_MESSAGES):,} in the listed conversation"
    return Case("Sunshine GET conversations/{id}/messages", requests, memory, held)


# --- measurement ------------------------------------------------------------------------------------


def measure_sizes(case: Case) -> dict[int, Stats]:
    """The sizes' requests alternating one by one, the order rotated every iteration."""
    warm_up(*case.requests.values())
    samples: dict[int, list[float]] = {size: [] for size in SIZES}
    clock = time.perf_counter
    gc.collect()
    for number in range(ITERATIONS):
        shift = number % len(SIZES)
        for size in SIZES[shift:] + SIZES[:shift]:
            start = clock()
            case.requests[size]()
            samples[size].append(clock() - start)
    return {size: Stats.of(s) for size, s in samples.items()}


def journal_run() -> list[dict]:
    """A fresh app, JOURNAL_REQUESTS journaled reads; the journal and the process at each checkpoint."""
    emulator = create_app(EmulatorConfig())
    seed = lp_account_seed()
    EmulatorClient(namespace=f"bench-journal-{secrets.token_hex(4)}", transport=AppTransport(emulator)).seed(seed)
    client, journal = emulator.test_client(), emulator.extensions["emulator"].journal
    read = answering(
        200, lambda: client.get(f"/api/account/{seed['liveperson']['accounts'][0]['id']}/service/idp/baseURI.json")
    )
    points, done, clock = [], 0, time.perf_counter
    for checkpoint in JOURNAL_CHECKPOINTS:
        for _ in range(checkpoint - done - JOURNAL_WINDOW):
            read()
        window = []
        for _ in range(JOURNAL_WINDOW):
            start = clock()
            read()
            window.append(clock() - start)
        done = checkpoint
        gc.collect()
        size_mb = deep_size(journal) / MB  # before `query`, which makes the entries' text
        points.append(
            {
                "requests": checkpoint,
                "entries": len(journal.query()),
                "journal_mb": size_mb,
                "rss_mb": rss_mb(),
                "latency": Stats.of(window),
            }
        )
    return points


# --- report -----------------------------------------------------------------------------------------


def summarise(run: Run, cases: list[Case]) -> list[Figure]:
    figures = []
    for number, case in enumerate(cases):
        section = "i ii iii".split()[number]
        for size in SIZES:
            per_round = [r["sizes"][case.name][size] for r in run.rounds]
            figures.append(
                figure(section, f"{case.name}, {case.held[size]}", "ms", [(s.median_ms, s.p99_ms) for s in per_round])
            )
            if size != SIZES[0]:
                small = [r["sizes"][case.name][SIZES[0]] for r in run.rounds]
                ratios = [
                    (s.median_ms / b.median_ms, s.p99_ms / b.p99_ms) for s, b in zip(per_round, small, strict=True)
                ]
                figures.append(figure(section, f"  ratio {size:,} / {SIZES[0]}", "x", ratios))
            figures.append(figure(section, f"  memory of that state ({size:,})", "MB", [(case.memory_mb[size], None)]))
    for index, checkpoint in enumerate(JOURNAL_CHECKPOINTS):
        points = [r["journal"][index] for r in run.rounds]
        label = f"journal after {checkpoint:,} requests ({points[0]['entries']:,} entries held)"
        figures += [
            figure("iv", f"{label}: its deep size", "MB", [(p["journal_mb"], None) for p in points]),
            figure("iv", "  process RSS", "MB", [(p["rss_mb"], None) for p in points]),
            figure(
                "iv",
                f"  latency of the last {JOURNAL_WINDOW:,} reads",
                "ms",
                [(p["latency"].median_ms, p["latency"].p99_ms) for p in points],
            ),
        ]
    return figures


# --- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = bench_arguments(__doc__, argv)

    started = time.perf_counter()
    emulator = create_app(EmulatorConfig())
    cases = []
    for make in (liveperson_case, users_case, messages_case):
        cases.append(make(emulator))
        print(f"set-up: {cases[-1].name} built ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    run = Run()
    for number in range(1, args.rounds + 1):
        print(f"round {number}/{args.rounds} ...", file=sys.stderr, flush=True)
        run.rounds.append({"sizes": {case.name: measure_sizes(case) for case in cases}, "journal": journal_run()})
    figures = summarise(run, cases)
    elapsed = time.perf_counter() - started

    print(table(figures, args.rounds))
    print(
        f"\n{ITERATIONS} requests per round and size, alternating one by one; memory by tracemalloc while"
        f" building (once); the registry keeps at most {REGISTRY_LIMIT:,} tokens; journal: {JOURNAL_REQUESTS:,}"
        f" requests per round on a fresh app ({args.rounds} rounds, {elapsed:.0f} s)"
    )
    if args.json:
        document = {
            "environment": environment(),
            "settings": {
                "rounds": args.rounds,
                "iterations": ITERATIONS,
                "sizes": SIZES,
                "journal_requests": JOURNAL_REQUESTS,
                "messages_per_conversation": MESSAGES_PER_CONVERSATION,
            },
            "memory_mb": {case.name: case.memory_mb for case in cases},
            "figures": [f.to_dict() for f in figures],
            "rounds": [serialisable(r) for r in run.rounds],
            "elapsed_s": elapsed,
        }
        Path(args.json).write_text(json.dumps(document, indent=2, default=serialisable_stats) + "\n")
    return 0


def serialisable_stats(value: Any) -> Any:
    """Stats inside lists (the journal's checkpoints), which `serialisable` leaves alone."""
    if isinstance(value, Stats):
        return serialisable(value)
    raise TypeError(f"not JSON-ready: {value!r}")


if __name__ == "__main__":
    raise SystemExit(main())
