"""A dashboard reading from a streaming replica (DURABLE_READ_DATABASE, docs/replica.md):
its pages and /metrics read Durable's tables on the replica, every action changes (and
reads) the primary, a lagging replica is named on the page, a replica that is down leaves
the pages on the primary with a note. A real primary and hot standby (tests/replica/conftest.py)."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.replica.conftest import LAG_NOTICE_SECONDS

pytestmark = pytest.mark.slow

GROUP = "workflow=shop.order&step=shop.step_1&error_type=shop.CardDeclined&fingerprint=fp-card"
PAGES = [  # every page of the dashboard that reads runs (GET), with what it needs
    "/",
    "/?status=ERROR",
    "/runs/r-failed/",
    "/values/run/input/r-failed",
    "/values/step/1/input/r-failed",
    "/latency/",
    "/latency/?window=7d",
    "/latency/steps/?step=shop.step_1",
    "/failures/",
    f"/failures/group/?{GROUP}",
    "/audit/",
    "/alerts/",
    "/workers/",
    "/system/",
    "/bulk/?action=resume&scope=matching&status=ERROR",
    "/jobs/",
    "/compare/r-failed",
    "/edit-output/0/r-failed",
]
# pages that write what they read do so on the primary: the latency rollups of 24 h (the
# default window: its step percentiles are histograms) and longer windows, the alert rules
# declared in settings
WRITING_PAGES = {"/latency/", "/latency/?window=7d", "/alerts/"}
NOTE = re.compile(r"data as of (\d+) s ago")
FALLBACK = "read replica is unreachable"


@pytest.fixture(scope="module")
def seeded(dashboard, pair):
    dashboard.seed(failed=["r-failed"], succeeded=["r-ok"], enqueued=["r-waiting"])
    pair.standby.catch_up(pair.primary)
    return dashboard


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_from_the_replica(seeded, caught_up, path):
    answer = seeded.get(path)
    assert answer["status"] == 200, answer["body"][-2000:]
    assert answer["replica"], f"{path} read nothing on the replica"
    assert FALLBACK not in answer["body"] and not NOTE.search(answer["body"])


@pytest.mark.parametrize("path", [page for page in PAGES if page not in WRITING_PAGES])
def test_pages_read_nothing_of_ours_on_the_primary(seeded, caught_up, path):
    answer = seeded.get(path)
    assert answer["status"] == 200
    assert answer["primary"] == [], answer["primary"]


def test_metrics_are_read_from_the_replica(seeded, caught_up):
    answer = seeded.get("/metrics")
    assert answer["status"] == 200, answer["body"][:500]
    assert 'durable_runs{status="ERROR",workflow="shop.order"}' in answer["body"]
    assert answer["replica"] and answer["primary"] == []


def test_a_lagging_replica_is_named_on_the_page_and_actions_act_on_the_primary(seeded, caught_up):
    pair = caught_up
    pair.standby.pause_replay()
    seeded.seed(enqueued=["r-new"])
    time.sleep(LAG_NOTICE_SECONDS + 1.5)  # past the notice threshold and the lag's cache
    page = seeded.get("/?status=ENQUEUED")
    assert "r-new" not in page["body"]  # the replica has not replayed it yet
    note = NOTE.search(page["body"])
    assert note and int(note.group(1)) >= LAG_NOTICE_SECONDS, page["body"][:3000]

    answer = seeded.post("/actions/cancel/", {"run_id": "r-new"})
    assert answer["status"] == 302 and answer["replica"] == []
    assert pair.on_primary("SELECT status FROM durable_run WHERE id = 'r-new'") == [("CANCELLED",)]


def test_a_replica_a_moment_behind_a_quiet_primary_is_not_called_stale(seeded, caught_up):
    """Lag is how old the replica's data is, not how long ago the primary last committed: a
    replica that applies the primary's newest commit a moment late is current, even when
    the commit it applied before that is older than the notice threshold."""
    pair = caught_up
    assert seeded.get("/")["replica"]  # the page's code is loaded: it will probe at once
    seeded.send({"cache_seconds": 1.0})  # the next page probes the replica afresh
    with pair.standby.applying_late("150ms"):
        time.sleep(LAG_NOTICE_SECONDS + 0.5)  # the primary commits nothing for a while
        seeded.seed(enqueued=["r-quiet"])
        answer = seeded.get("/")
    assert answer["replica"] and not NOTE.search(answer["body"]), NOTE.search(answer["body"])


def test_a_noted_lag_ends_once_the_replica_has_what_the_last_probe_saw(seeded, caught_up):
    """A lag noted a moment ago is believed without waiting again, but a replica that has
    since replayed what the primary had written at that probe is no older than the probe,
    even while it trails the newest commit by a moment."""
    pair = caught_up
    seeded.send({"settings": {"DURABLE_READ_LAG_NOTICE_SECONDS": 2.0}})
    try:
        pair.standby.pause_replay()
        seeded.seed(enqueued=["r-behind"])
        time.sleep(3.0)
        assert NOTE.search(seeded.get("/")["body"])  # noted: the replica is 3 s behind
        pair.standby.resume_replay()
        pair.standby.catch_up(pair.primary)
        with pair.standby.applying_late("300ms"):
            time.sleep(1.1)  # the noted state's second is over
            seeded.seed(enqueued=["r-moment"])
            answer = seeded.get("/")
        assert answer["replica"] and not NOTE.search(answer["body"]), NOTE.search(answer["body"])
    finally:
        seeded.send({"settings": {"DURABLE_READ_LAG_NOTICE_SECONDS": LAG_NOTICE_SECONDS}})


def test_after_an_action_the_operator_reads_their_own_change(seeded, caught_up):
    """The page an action redirects to (and a bulk job's progress) reads the primary until
    the replica has replayed the action: never the run as it was before the click."""
    pair = caught_up
    seeded.seed(enqueued=["r-mine"])
    pair.standby.catch_up(pair.primary)
    pair.standby.pause_replay()
    answer = seeded.post("/actions/cancel/", {"run_id": "r-mine"})
    assert answer["status"] == 302
    page = seeded.get(answer["location"])
    assert page["status"] == 200 and 'id="run-status">CANCELLED<' in page["body"]
    assert page["replica"] == [] and not NOTE.search(page["body"])
    pair.standby.resume_replay()
    pair.standby.catch_up(pair.primary)
    time.sleep(1.2)  # the replica's state is cached for a second
    assert seeded.get(answer["location"])["replica"]  # replayed: back on the replica


def test_a_bulk_job_selects_on_the_primary_what_the_lagging_preview_did_not_see(seeded, caught_up):
    pair = caught_up
    pair.standby.pause_replay()
    seeded.seed(failed=["r-late"])
    preview = seeded.get("/bulk/?action=resume&scope=matching&status=ERROR")
    assert preview["status"] == 200 and preview["primary"] == []
    seen = int(re.search(r'name="total" value="(\d+)"', preview["body"]).group(1))
    as_of = re.search(r'name="as_of" value="([^"]+)"', preview["body"]).group(1)
    token = str(uuid.uuid4())
    answer = seeded.post(
        "/actions/bulk/",
        {"action": "resume", "scope": "matching", "status": "ERROR", "total": seen,
         "as_of": as_of, "token": token, "reason": token},
    )  # fmt: skip
    assert answer["status"] == 200, answer["body"][:2000]
    assert answer["replica"] == []
    [(run_ids,)] = pair.on_primary("SELECT run_ids FROM durable_bulkjob WHERE reason = %s", [token])
    assert "r-late" in run_ids and len(run_ids) == seen + 1


def test_a_page_that_writes_reads_what_it_writes_on_the_primary(seeded, caught_up):
    """The alert rules page stores the rules declared in settings: it must look for them on
    the primary, or a lagging replica has it insert the same rule twice."""
    pair = caught_up
    rule = {"name": "from code", "kind": "runs_dead",
            "destinations": [{"kind": "webhook", "url": "https://hooks.example/x"}]}  # fmt: skip
    seeded.send({"settings": {"DURABLE_ALERT_RULES": [rule]}})
    try:
        pair.standby.pause_replay()
        for _ in range(2):
            answer = seeded.get("/alerts/")
            assert answer["status"] == 200, answer["body"][-1500:]
        assert pair.on_primary("SELECT count(*) FROM durable_alertrule") == [(1,)]
    finally:
        seeded.send({"settings": {"DURABLE_ALERT_RULES": []}})
        seeded.get("/alerts/")


def test_a_replica_lost_in_the_middle_of_a_page_has_the_page_read_the_primary(seeded, caught_up):
    pair = caught_up
    seeded.send({"cache_seconds": 3600})  # the probe keeps saying the replica is there
    try:
        assert seeded.get("/")["replica"]
        pair.standby.stop()
        answer = seeded.get("/?status=ERROR")
        assert answer["status"] == 200, answer["body"][-2000:]
        assert FALLBACK in answer["body"] and "r-failed" in answer["body"]
        assert answer["primary"] and answer["replica"] == []
    finally:
        seeded.send({"cache_seconds": 1.0})
        pair.standby.start()


def test_a_replica_that_is_down_leaves_the_pages_on_the_primary_with_a_note(seeded, caught_up):
    pair = caught_up
    pair.standby.stop()
    try:
        time.sleep(1.5)  # the replica's state is cached for a second
        answer = seeded.get("/")
        assert answer["status"] == 200
        assert FALLBACK in answer["body"]
        assert answer["primary"] and answer["replica"] == []
    finally:
        pair.standby.start()
    deadline = time.monotonic() + 15  # a replica given up is tried again within 5 s
    while FALLBACK in (answer := seeded.get("/"))["body"]:
        assert time.monotonic() < deadline, "the pages never went back to the replica"
        time.sleep(0.5)
    assert answer["replica"] and answer["primary"] == []
