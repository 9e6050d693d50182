"""Who may call the API: a bearer token, scoped to view or operate, never more than its
user holds at the time of the call; cookies never authenticate; rate limited per token."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.test import Client, override_settings
from django.utils import timezone

from dashboard import tokens
from dashboard.api import auth
from dashboard.models import ApiToken
from durable.models import AuditEntry, Run
from tests.dashboard.api.conftest import TokenClient, operations
from tests.dashboard.conftest import make_failed_run


def _concrete(path: str) -> str:
    """A schema path with its parameters filled in (a run id, a job's uuid)."""
    path = path.replace("{job_id}", "00000000-0000-0000-0000-000000000000")
    return re.sub(r"\{[^}]+\}", "r-1", path)


ACTIONS = operations(lambda method: method != "GET")
READS = operations(lambda method: method == "GET")


def test_the_schema_has_actions_and_reads_to_check():
    assert len(ACTIONS) >= 15 and len(READS) >= 6


@pytest.mark.parametrize(("method", "path"), ACTIONS)
def test_a_view_token_is_refused_on_every_action(view_api, method, path):
    make_failed_run(id="r-1")
    response = view_api.post(_concrete(path), {"run_id": "r-1", "reason": "try"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "may only view" in response.json()["detail"]
    assert not AuditEntry.objects.exists()
    assert Run.objects.get(id="r-1").status == "ERROR"


@pytest.mark.parametrize(("method", "path"), ACTIONS + READS)
def test_an_unauthenticated_call_gets_401(anonymous_api, method, path):
    call = anonymous_api.get if method == "GET" else anonymous_api.post
    response = call(_concrete(path))
    assert response.status_code == 401
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), ACTIONS)
def test_a_logged_in_session_does_not_authenticate_an_action(owner, method, path):
    client = Client()
    client.force_login(owner)
    response = client.post(_concrete(path), {}, content_type="application/json")
    assert response.status_code == 401


def test_an_operate_token_of_a_user_who_lost_the_permission_is_refused(owner, operator_api):
    make_failed_run(id="r-1")
    owner.user_permissions.remove(Permission.objects.get(codename="operate_runs"))
    response = operator_api.post("/runs/actions/resume", {"run_id": "r-1", "reason": "x"})
    assert response.status_code == 403
    assert "lacks the 'operate runs' permission" in response.json()["detail"]


def test_a_view_token_reads(view_api):
    make_failed_run(id="r-1")
    assert view_api.get("/runs/r-1").json()["run"]["status"] == "ERROR"


@pytest.mark.parametrize(
    "change",
    [
        {"revoked_at": timezone.now()},
        {"expires_at": timezone.now() - timedelta(seconds=1)},
    ],
)
def test_revoked_and_expired_tokens_get_401_saying_which(owner, change):
    made = tokens.create(owner, "old", "view")
    ApiToken.objects.filter(pk=made.token.pk).update(**change)
    response = TokenClient(made.secret).get("/runs")
    assert response.status_code == 401
    said = "revoked" if "revoked_at" in change else "expired"
    detail = response.json()["detail"]
    assert said in detail and made.token.prefix in detail and "Tokens page" in detail
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_forged_token_gets_401(db):
    assert TokenClient("dur_00000000_forged").get("/runs").status_code == 401


def test_a_token_is_stored_only_as_a_digest(operate_token):
    row = ApiToken.objects.get()
    assert operate_token.secret not in (row.digest, row.prefix, row.name)
    assert operate_token.secret.startswith(row.prefix + "_")


def test_a_user_cannot_make_a_token_above_their_permissions(viewer):
    with pytest.raises(tokens.TokenError, match="lacks the 'operate runs' permission"):
        tokens.create(viewer, "bot", "operate")


def test_last_use_is_recorded_at_most_once_a_minute(operate_token, operator_api):
    operator_api.get("/runs")
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    operator_api.get("/runs")
    assert ApiToken.objects.get().last_used_at == first


# A minute of the limiter's clock starts here (1_700_000_040 is a multiple of 60).
MINUTE = 1_700_000_040.0


@pytest.fixture
def limiter_clock(monkeypatch):
    """The rate limiter's clock, set by the test: its windows are minutes of the wall clock,
    so requests sent on the real one may straddle a minute's turn and be counted twice over."""
    from django.core.cache import cache

    clock = SimpleNamespace(now=MINUTE, step=0.0)

    def read() -> float:
        now = clock.now
        clock.now += clock.step
        return now

    monkeypatch.setattr(auth, "time", SimpleNamespace(time=read))
    cache.clear()
    yield clock
    cache.clear()


@override_settings(DASHBOARD_API_RATE_LIMIT=3)
def test_a_token_over_its_rate_gets_429_with_retry_after(operator_api, limiter_clock):
    limiter_clock.now = MINUTE + 1
    answers = [operator_api.get("/runs").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    response = operator_api.get("/runs")
    assert response.status_code == 429
    assert response["Retry-After"] == "59"
    assert "more than 3 requests this minute; retry in 59 s" in response.json()["detail"]


@override_settings(DASHBOARD_API_RATE_LIMIT=1)
def test_retry_after_counts_to_the_end_of_the_window_that_counted_the_request(
    operator_api, limiter_clock
):
    # each read of the clock is a millisecond later: the refusal is read just before the
    # minute turns, and waiting its Retry-After is enough
    limiter_clock.now, limiter_clock.step = MINUTE + 59.9985, 0.001
    assert operator_api.get("/runs").status_code == 200
    refused = operator_api.get("/runs")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert operator_api.get("/runs").status_code == 200
