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

View = Callable[..., HttpResponse]


def can_view(user) -> bool:
    return user.has_perm(VIEW_RUNS) or user.has_perm(OPERATE_RUNS)


def can_operate(user) -> bool:
    return user.has_perm(OPERATE_RUNS)


def viewer_required(view: View) -> View:
    """Login, then 403 unless the user may view runs."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_view(request.user):
            raise PermissionDenied("You need the 'view runs' permission.")
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def operator_required(view: View) -> View:
    """Login, POST only, then 403 unless the user may operate on runs."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_operate(request.user):
            raise PermissionDenied("You need the 'operate runs' permission.")
        return view(request, *args, **kwargs)

    return login_required(require_POST(wrapper))


def operator_page(view: View) -> View:
    """Login, then 403 unless the user may operate: for pages that only prepare an action."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_operate(request.user):
            raise PermissionDenied("You need the 'operate runs' permission.")
        return view(request, *args, **kwargs)

    return login_required(wrapper)
