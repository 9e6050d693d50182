"""Bearer tokens for the API: who calls, with what scope, and how often.

A token authenticates only with `Authorization: Bearer <token>`; cookies never do, so CSRF
does not apply. Its scope is checked against its user's permissions at every request: a
user who lost `operate_runs` cannot act through an old `operate` token. Any method but GET
changes something, so it needs an operate token.

Rate limit: a fixed window per token in Django's cache (`cache.add` + `cache.incr`, atomic
in Redis and Memcached): no database write per request. The windows are the wall clock's
minutes, so a token may send its rate just before a minute turns and its rate again just
after (at most twice its rate within any 60 s). With the default per-process cache
the limit holds per process; configure a shared cache (Redis) to hold it across workers.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import HttpBearer

from dashboard import tokens
from dashboard.api.problems import ApiProblem
from dashboard.models import ApiToken, TokenScope
from dashboard.permissions import can_operate, can_view

WINDOW_SECONDS = 60
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def rate_limit() -> int:
    """Requests per token per minute (`DASHBOARD_API_RATE_LIMIT`, default 600)."""
    return int(getattr(settings, "DASHBOARD_API_RATE_LIMIT", 600))


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = tokens.find(token)
        if found is None:
            if why := tokens.why_refused(token):  # a token once good: say what happened
                raise ApiProblem(401, why, headers={"WWW-Authenticate": "Bearer"})
            return None  # 401
        _check_rate(found)
        user = found.user
        if not can_view(user):
            raise ApiProblem(403, f"{user.get_username()} lacks the 'view runs' permission.")
        if request.method not in READ_METHODS:
            if found.scope != TokenScope.OPERATE:
                raise ApiProblem(
                    403,
                    f"Token {found.prefix} may only view: make an operate token to act on runs.",
                )
            if not can_operate(user):
                raise ApiProblem(
                    403,
                    f"{user.get_username()} lacks the 'operate runs' "
                    "permission, which this token needs.",
                )
        tokens.touch(found)
        request.user = user
        return found


def _check_rate(token: ApiToken) -> None:
    """Count the request in its minute of the wall clock. The clock is read once, so the
    refusal's Retry-After counts to the end of the very window that counted the request."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"dashboard-api-rate:{token.pk}:{window}"
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr: count this one as the first
        cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    if count > rate_limit():
        retry = WINDOW_SECONDS - int(now) % WINDOW_SECONDS
        raise ApiProblem(
            429,
            f"Token {token.prefix} sent more than {rate_limit()} requests "
            f"this minute; retry in {retry} s.",
            headers={"Retry-After": str(retry)},
        )


def actor(request: HttpRequest) -> str:
    """The audit log's actor for this request: the token's user, and which token."""
    return f"{request.user.get_username()} via API token {request.auth.prefix}"
