"""`/health`: 200 with a live executor and applied migrations, 503 saying why otherwise."""

from __future__ import annotations

from django.db import connection

from durable.core import store


def beat(executor_id: str, seconds_ago: float = 0, lifeline: bool = False) -> None:
    """An executor row last heard from `seconds_ago`; with `lifeline`, its process lives
    (the lock its lifeline holds, held here until the test's transaction ends)."""
    store.heartbeat(executor_id=executor_id, kind="thread", hostname="h", pid=1, workflows=[])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE durable_executor SET last_seen_at = now() - make_interval(secs => %s)"
            " WHERE id = %s",
            [seconds_ago, executor_id],
        )
        if lifeline:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [executor_id])


def test_health_is_ok_with_a_live_executor_and_applied_migrations(db, client, settings):
    settings.DURABLE_LEASE_SECONDS = 5
    beat("ex-live", seconds_ago=9, lifeline=True)  # alive, its heartbeats late (a GIL hog)
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["migrations"] == {"name": "migrations", "ok": True, "detail": "applied"}
    assert body["checks"]["executors"]["detail"] == "1 live"


def test_health_is_503_when_no_executor_heartbeat_within_two_leases(db, client, settings):
    settings.DURABLE_LEASE_SECONDS = 5
    beat("ex-stale", seconds_ago=11)
    response = client.get("/health")
    assert response.status_code == 503
    executors = response.json()["checks"]["executors"]
    assert not executors["ok"]
    assert "no executor heartbeat in the last 10s" in executors["detail"]


def test_health_is_503_when_the_only_executor_died_without_waiting_two_leases(
    db, client, short_lease
):
    """Its lifeline lock is gone and it has been silent three heartbeats: the recovery
    verdict's rule, so /health says no executor while its runs wait to be recovered."""
    beat("ex-killed", seconds_ago=5)
    response = client.get("/health")
    assert response.status_code == 503
    assert not response.json()["checks"]["executors"]["ok"]


def test_health_needs_no_login(db, client):
    assert client.get("/health").status_code in {200, 503}
    assert client.get("/health").headers["Content-Type"] == "application/json"


def test_health_can_skip_the_executor_check_for_web_liveness_probes(db, client, settings):
    settings.DURABLE_LEASE_SECONDS = 5
    beat("ex-old", seconds_ago=60)
    response = client.get("/health?skip=executors")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "migrations"}
