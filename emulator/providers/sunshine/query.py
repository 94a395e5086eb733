"""Query objects (`page`, `filter`) in the three encodings real clients send, and cursor pagination.

- `page[after]=…&page[size]=10` (the spec's deepObject style; Python client 16, Node client);
- `page={"after": "…", "size": 10}` (a JSON object, as the Python client 17 sends it) [I] leniency;
- only the first key of an object (the Node client), so nothing assumes that both keys arrive.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from .errors import bad_request

DEFAULT_PAGE_SIZE = 25  # [C]
MAX_PAGE_SIZE = 100  # [C]
MESSAGE_PAGE_SIZE = 100  # [C] fixed for messages
CURSOR_LENGTH = 24  # [C] cursors are record ids
_INVALID_PAGE = "Invalid page query parameters"  # [C]


def query_object(args: MultiDict, name: str) -> dict[str, object]:
    """`name[key]=value` pairs and a JSON-encoded `name=` object, merged (brackets win)."""
    found: dict[str, object] = {}
    encoded = args.get(name)
    if encoded is not None:
        try:
            parsed = json.loads(encoded)
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict):
            raise bad_request(f"Invalid {name} query parameters", f"{name}_not_an_object")
        found.update(parsed)
    prefix = f"{name}["
    for key, value in args.items(multi=True):
        if key.startswith(prefix) and key.endswith("]"):
            found[key[len(prefix) : -1]] = value
    return found


@dataclass(frozen=True)
class Page:
    after: str | None = None
    before: str | None = None
    size: int | None = None  # None: not given


def read_page(args: MultiDict) -> Page:
    values = query_object(args, "page")
    after, before, size = values.get("after"), values.get("before"), values.get("size")
    if after is not None and before is not None:
        raise bad_request(_INVALID_PAGE, "both_cursors")
    return Page(_cursor(after), _cursor(before), None if size is None else _page_size(size))


def _cursor(value: object) -> str | None:
    if value is None or (isinstance(value, str) and len(value) == CURSOR_LENGTH):
        return value
    raise bad_request(_INVALID_PAGE, "bad_cursor")


def _page_size(value: object) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 3:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_PAGE_SIZE:
        raise bad_request(_INVALID_PAGE, "bad_size")
    return value


T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    items: list
    meta: dict
    links: dict


def paginate(
    records: Sequence[T],
    page: Page,
    id_of: Callable[[T], str],
    url: str,
    *,
    newest_first_page: bool = False,
    fixed_size: int | None = None,
    kept_query: Mapping[str, str] | None = None,
) -> Window:
    """One page of `records` (oldest first). Without a cursor the first page is the oldest, or with
    `newest_first_page` the newest (messages page backwards). `hasMore` speaks of the direction taken."""
    size = fixed_size or page.size or DEFAULT_PAGE_SIZE
    count = len(records)

    def id_at(index: int) -> str:
        return id_of(records[index])

    def index_of(cursor: str) -> int | None:
        """Where the cursor's record stands (a scan only when a cursor is given: the newest page needs none)."""
        return next((index for index, record in enumerate(records) if id_of(record) == cursor), None)

    if page.after is not None:
        found = index_of(page.after)
        start = count if found is None else found + 1  # [I] an unknown cursor: nothing after it
        items = list(records[start : start + size])
        more = start + size < count
        after = id_at(start + len(items) - 1) if more and items else None
        before = id_at(start) if items and start > 0 else None
    else:
        if page.before is not None:
            end = index_of(page.before) or 0  # [I] an unknown cursor: nothing before it
        else:
            end = count if newest_first_page else min(size, count)
        start = max(0, end - size)
        items = list(records[start:end])
        more = start > 0
        before = id_at(start) if more and items else None
        after = id_at(end - 1) if items and end < count else None
        if page.before is None and not newest_first_page:  # the oldest page: "more" lies after it
            more = end < count
            before = None
    meta: dict = {"hasMore": more}
    links: dict = {}
    kept = dict(kept_query or {})
    if page.size is not None and fixed_size is None:
        kept["page[size]"] = str(page.size)
    if after is not None:
        meta["afterCursor"] = after
        links["next"] = f"{url}?{urlencode({**kept, 'page[after]': after})}"
    if before is not None:
        meta["beforeCursor"] = before
        links["prev"] = f"{url}?{urlencode({**kept, 'page[before]': before})}"
    return Window(items, meta, links)
