"""Who may see and who may act: `view_runs` to read, `operate_runs` to change runs.

Operating implies viewing. Action views are POST-only; a viewer gets 403, never a button.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from dashboard.models import OPERATE_RUNS, VIEW_RUNS
from dashboard.replica import reads_on_replica

View = Callable[..., HttpResponse]


def can_view(user) -> bool:
    return user.has_perm(VIEW_RUNS) or user.has_perm(OPERATE_RUNS)


def can_operate(user) -> bool:
    return user.has_perm(OPERATE_RUNS)


def _requiring(check: Callable[..., bool], message: str) -> Callable[[View], View]:
    """A decorator: login first (anonymous users go to the login page), then 403 unless
    `check(user)`; a page's reads then go to the read replica, if any (dashboard/replica.py)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not check(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return login_required(reads_on_replica(wrapper))

    return decorate


viewer_required = _requiring(can_view, "You need the 'view runs' permission.")
operator_page = _requiring(can_operate, "You need the 'operate runs' permission.")


def operator_required(view: View) -> View:
    """For actions: login, the `operate_runs` permission, and POST only."""
    return operator_page(require_POST(view))
