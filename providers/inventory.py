"""What the gcp and azure reality probes share: walking an inventory API's pages, and its rows.

Each probe asks its cloud one paginated query (providers/gcp/probe.py: Cloud Asset search;
providers/azure/probe.py: Resource Graph); how a page is fetched and what names its next page
differ, the walk does not. A query that cannot be answered raises `Unanswered` with the reason,
which becomes a `ProbeResult` that did not answer (never "unchanged").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_PAGES = 100  # past this, a page token going round in circles is assumed


Fetch = Callable[[str], tuple[list[dict[str, Any]], str]]


class Unanswered(Exception):
    """The query could not be made; the message says why (never a secret). `calls`: the API
    calls made, the failed one included."""

    def __init__(self, reason: str, calls: int = 0) -> None:
        super().__init__(reason[:300])
        self.calls = calls


def collect(fetch: Fetch, what: str) -> tuple[list[dict[str, Any]], int]:
    """Every row of every page, and the number of calls: `fetch(token)` returns a page's rows and
    the next page's token ("" on the last page; the first page is fetched with "")."""
    found: list[dict[str, Any]] = []
    token = ""
    for calls in range(1, MAX_PAGES + 1):
        try:
            page, token = fetch(token)
        except Unanswered as exc:
            raise Unanswered(str(exc), calls) from None
        found += page
        if not token:
            return found, calls
    raise Unanswered(f"{what} answered more than {MAX_PAGES} pages", MAX_PAGES)


def rows(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The JSON objects listed under `key` of an answer; anything else there is ignored."""
    listed = body.get(key)
    return [r for r in listed if isinstance(r, dict)] if isinstance(listed, list) else []
