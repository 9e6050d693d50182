"""Pages read from the read replica when there is one (DURABLE_READ_DATABASE, docs/replica.md);
actions never do.

A GET or HEAD of a page reads Durable's tables on the replica; the page's `request.durable_reads`
(a `ReadState`) tells the template to say how old the data is, or that the replica could not
be reached and the page read the primary. Every other method (every action, every form
post) reads and writes the primary: what an operator changes is judged on current data.
It also leaves the primary's WAL position in a cookie, so the pages that follow read the
primary until the replica has replayed that far: an operator sees their own change.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse

from durable.observability import inspection

View = Callable[..., HttpResponse]
READS = frozenset({"GET", "HEAD"})
AFTER_COOKIE = "durable_read_after"
AFTER_SECONDS = 300  # past this, a replica still behind the change says how far on the page


def reads_on_replica(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in READS:
            return _remembering_position(request, view(request, *args, **kwargs))

        def read(state: inspection.ReadState) -> HttpResponse:
            request.durable_reads = state
            return view(request, *args, **kwargs)

        return inspection.read_on_replica(read, request.COOKIES.get(AFTER_COOKIE, "")[:40])

    return wrapper


def _remembering_position(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """The primary's position after an action, for the pages that follow (none without a
    replica). Not a secret: a forged one only moves that browser's reads."""
    position = inspection.primary_position()
    if position:
        response.set_cookie(
            AFTER_COOKIE, position, max_age=AFTER_SECONDS, httponly=True, samesite="Lax",
            secure=request.is_secure(),
        )  # fmt: skip
    return response
