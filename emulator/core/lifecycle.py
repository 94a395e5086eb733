"""Token lifecycle overrides of one namespace: expire, revoke, fail the next validations.

Tokens are stateless JWTs, so the namespace remembers a fingerprint of each token it issued (bounded)
with the subjects it belongs to (e.g. `liveperson:account:123`, `liveperson:consumer:<uuid>`). An
override names a token or a subject; a subject override reaches the tokens issued before it, not after.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from .keys import TokenError

REGISTRY_LIMIT = 50_000  # tokens remembered per namespace; the oldest are forgotten first
RECENT_LIMIT = 500  # tokens kept whole (for their claims on the dashboard): the newest only


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class _Issued:
    sequence: int
    subjects: tuple[str, ...]
    expires_at: float | None = None  # the token's own expiry, for the dashboard
    issued_at: float | None = None  # on the namespace's clock; None: from before an export
    refresh_until: float | None = None  # the end of its refresh window, if the provider refreshes it


@dataclass
class _Override:
    expires_at: float | None = None
    revoked: bool = False
    failures_left: int = 0


@dataclass(frozen=True)
class _SubjectCut:
    through_sequence: int  # tokens issued up to this sequence number are affected
    expires_at: float | None  # None: revoked


class TokenLifecycle:
    def __init__(self, now: Callable[[], float] | None = None) -> None:
        self._now = now
        self._recent: OrderedDict[str, str] = OrderedDict()  # fingerprint -> token, newest last
        self._lock = threading.Lock()
        self._sequence = itertools.count(1)
        self._last_sequence = 0
        self._issued: OrderedDict[str, _Issued] = OrderedDict()
        self._overrides: dict[str, _Override] = {}
        self._cuts: dict[str, list[_SubjectCut]] = {}

    def issued(
        self, token: str, subjects: Iterable[str], expires_at: float | None = None, refresh_until: float | None = None
    ) -> None:
        """Remember a token the namespace just issued (`refresh_until`: for the dashboard, not enforced here)."""
        key = fingerprint(token)
        issued_at = self._now() if self._now is not None else None
        with self._lock:
            self._last_sequence = next(self._sequence)
            self._issued[key] = _Issued(self._last_sequence, tuple(subjects), expires_at, issued_at, refresh_until)
            if len(self._issued) > REGISTRY_LIMIT:
                self._issued.popitem(last=False)
            self._recent[key] = token
            if len(self._recent) > RECENT_LIMIT:
                self._recent.popitem(last=False)

    def knows(self, token: str) -> bool:
        return fingerprint(token) in self._issued

    def knows_fingerprint(self, key: str) -> bool:
        return key in self._issued

    def recent_token(self, key: str) -> str | None:
        """The token of a fingerprint, if it is among the newest issued (for its claims)."""
        return self._recent.get(key)

    def live(self, now: float, limit: int = 50) -> list[dict]:
        """The newest tokens not yet expired on `now` (by their own exp, an override or a subject cut), or
        expired but still inside their refresh window; newest first."""
        with self._lock:
            newest = list(itertools.islice(reversed(self._issued.items()), limit * 4))
            rows = [self._row(key, entry) for key, entry in newest]
        return [row for row in rows if _showing(row, now)][:limit]

    def details(self, key: str) -> dict | None:
        """What the namespace knows of the token of this fingerprint (see `_row`), or None."""
        with self._lock:
            entry = self._issued.get(key)
            return None if entry is None else self._row(key, entry)

    def _row(self, key: str, entry: _Issued) -> dict:
        """A token's subjects, issue time and effective expiry and revocation, overrides and cuts applied."""
        override = self._overrides.get(key)
        cuts = [
            cut
            for subject in entry.subjects
            for cut in self._cuts.get(subject, ())
            if entry.sequence <= cut.through_sequence
        ]
        expiries = [t for t in (entry.expires_at, override.expires_at if override else None) if t is not None]
        expiries += [cut.expires_at for cut in cuts if cut.expires_at is not None]
        return {
            "fingerprint": key,
            "subjects": list(entry.subjects),
            "issued_at": entry.issued_at,
            "expires_at": min(expiries) if expiries else None,
            "refresh_until": entry.refresh_until,
            "revoked": bool(override and override.revoked) or any(cut.expires_at is None for cut in cuts),
        }

    def expire_fingerprint(self, key: str, at: float) -> None:
        with self._lock:
            override = self._overrides.setdefault(key, _Override())
            override.expires_at = at if override.expires_at is None else min(override.expires_at, at)

    def revoke_fingerprint(self, key: str) -> None:
        with self._lock:
            self._overrides.setdefault(key, _Override()).revoked = True

    def fail_next(self, token: str, times: int) -> None:
        """The next `times` validations of this token fail, whatever else holds."""
        with self._lock:
            self._overrides.setdefault(fingerprint(token), _Override()).failures_left = times

    def expire_subjects(self, subjects: Iterable[str], at: float) -> None:
        self._cut(subjects, at)

    def revoke_subjects(self, subjects: Iterable[str]) -> None:
        self._cut(subjects, None)

    def _cut(self, subjects: Iterable[str], expires_at: float | None) -> None:
        with self._lock:
            for subject in subjects:
                self._cuts.setdefault(subject, []).append(_SubjectCut(self._last_sequence, expires_at))

    def check(self, token: str, now: float, *, allow_expired: bool = False) -> None:
        """Raise the TokenError an override calls for: injected failure, revoked, or expired."""
        key = fingerprint(token)
        with self._lock:
            override = self._overrides.get(key)
            if override is not None and override.failures_left > 0:
                override.failures_left -= 1
                raise TokenError(TokenError.INJECTED, "a failure injected by the test")
            issued = self._issued.get(key)
            # a token the registry forgot (or from before a restart) counts as issued before every cut
            sequence = issued.sequence if issued else 0
            cuts = [cut for subject in (issued.subjects if issued else ()) for cut in self._cuts.get(subject, ())]
        affecting = [cut for cut in cuts if sequence <= cut.through_sequence]
        if (override and override.revoked) or any(cut.expires_at is None for cut in affecting):
            raise TokenError(TokenError.REVOKED, "revoked by the test")
        if allow_expired:
            return
        expiries = [cut.expires_at for cut in affecting if cut.expires_at is not None]
        if override and override.expires_at is not None:
            expiries.append(override.expires_at)
        if expiries and now >= min(expiries):
            raise TokenError(TokenError.EXPIRED, "expired by the test")

    def export(self) -> dict:
        with self._lock:
            return {
                "last_sequence": self._last_sequence,
                "issued": {key: [i.sequence, list(i.subjects), i.expires_at] for key, i in self._issued.items()},
                "overrides": {key: vars(o).copy() for key, o in self._overrides.items()},
                "cuts": {s: [[c.through_sequence, c.expires_at] for c in cuts] for s, cuts in self._cuts.items()},
            }

    def restore(self, data: dict) -> None:
        """Load an export; anything of the wrong type is a ValueError, and nothing changes."""
        document = _LifecycleDocument.model_validate(data)
        issued = OrderedDict(
            (k, _Issued(v[0], tuple(v[1]), v[2] if len(v) > 2 else None)) for k, v in document.issued.items()
        )
        overrides = {k: _Override(**v.model_dump()) for k, v in document.overrides.items()}
        cuts = {s: [_SubjectCut(c[0], c[1]) for c in v] for s, v in document.cuts.items()}
        last = document.last_sequence
        with self._lock:
            self._issued, self._overrides, self._cuts = issued, overrides, cuts
            self._recent = OrderedDict()
            self._last_sequence = last
            self._sequence = itertools.count(last + 1)


def _showing(row: dict, now: float) -> bool:
    """Not revoked, and not expired or still refreshable at `now`."""
    if row["revoked"]:
        return False
    if row["expires_at"] is None:
        return True
    return max(row["expires_at"], row["refresh_until"] or 0) > now


Seconds = StrictFloat | StrictInt
Sequence = Annotated[StrictInt, Field(ge=0, le=10**15)]


class _OverrideDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    expires_at: Seconds | None = None
    revoked: StrictBool = False
    failures_left: StrictInt = Field(default=0, ge=0, le=10**9)


class _LifecycleDocument(BaseModel):
    """The exported shape, validated on import."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    last_sequence: Sequence = 0
    issued: dict[str, tuple[Sequence, list[StrictStr]] | tuple[Sequence, list[StrictStr], Seconds | None]] = {}
    overrides: dict[str, _OverrideDocument] = {}
    cuts: dict[str, list[tuple[Sequence, Seconds | None]]] = {}
