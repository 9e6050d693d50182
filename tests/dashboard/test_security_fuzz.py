"""Hostile input on every dashboard form and query parameter: never a server error.

Hypothesis mixes random text with the inputs that broke pages before: NUL bytes, integers
past Python's 4,300-digit limit, deeply nested JSON, time-zone offsets PostgreSQL refuses,
ids with newlines or dot segments, NaN / Infinity / 1e400, forged cursors, non-ASCII
("²" is a digit to Python), and hostile headers (a non-ASCII Authorization on /metrics).
Every form, path and header: run pages and actions, schedules, queue limits, drains, the
debugging tools (patch, whole values, compare), delete, new-run options, /health, /metrics.
`-s` prints the requests sent and the server errors found.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import durable
from durable.core import store
from durable.models import Run
from durable.schedules import _declared as declared_schedules
from tests.dashboard.conftest import make_failed_run
from tests.engine.test_dynamic_schedules import ping
from tests.tiers import examples

HOSTILE = [
    "\x00", "a\x00b", "9" * 5000, "-" + "9" * 5000, "1e400", "NaN", "Infinity", "-Infinity",
    "[" * 5000, '{"args":' * 3000, '{"args": [NaN]}', '{"kwargs": {"x": 1e400}}',
    '{"args": [' + "7" * 4400 + "]}", "2024-01-01T00:00:00+23:59", "2024-01-01T00:00:00-23:59",
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2024-13-45T99:99", "x\ny",
    "attacker/../victim", "..", "%00", "'; DROP TABLE durable_run; --", "<script>x</script>",
    "", " ", "=", "a=b\x00", "k=" + "v" * 300, "2147483648", "-1", "0", "1", "10" * 30,
    "restart", "cancel", "resume", "selected", "matching", "ERROR", "24h", "oldest",
    "00000000-0000-0000-0000-000000000000", "²", "step-²-output", "step-" + "9" * 5000 + "-output",
    "é", "☃", "Bearer ☃", "Bearer é", "\u202e", "\ufeff", "[" * 100_000, '{"a":' * 50_000,
    "fuzz-sched", "fuzz-exec", "step-0-output", "input", "output", "error",
]  # fmt: skip


def _cursor(created: str, run_id: object, direction: object) -> str:
    raw = json.dumps([created, run_id, direction]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


VALUES = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.integers().map(str),
    st.builds(
        _cursor,
        st.sampled_from(HOSTILE[:20] + ["2024-01-01T00:00:00+00:00"]),
        st.one_of(st.sampled_from(HOSTILE), st.integers(), st.none()),
        st.sampled_from(["older", "newer", "x", None]),
    ),
)
FILTER = ["status", "workflow", "version", "queue", "error_type", "fingerprint", "tag",
          "since", "until", "window", "q", "sort", "delayed"]  # fmt: skip
NEW_RUN = ["new_run_id", "queue", "timeout"]
ENDPOINTS = {
    ("GET", "/"): [*FILTER, "cursor"],
    ("GET", "/latency/"): ["window", "workflow"],
    ("GET", "/failures/"): ["window", "triage"],
    ("GET", "/audit/"): ["actor", "action", "run", "before"],
    ("GET", "/workers/"): [],
    ("GET", "/bulk/"): ["action", "scope", "run_ids", *FILTER],
    ("POST", "/actions/resume/"): ["run_id", "reason", "seen"],
    ("POST", "/actions/restart/"): ["run_id", "reason", "seen", *NEW_RUN],
    ("POST", "/actions/cancel/"): ["run_id", "reason", "seen"],
    ("POST", "/actions/delete/"): ["run_id", "reason", "seen"],
    ("POST", "/actions/fork/"): ["run_id", "from_step", "input", "reason", "seen", *NEW_RUN],
    ("POST", "/actions/queue-limits/"): [
        "name",
        "concurrency",
        "worker_concurrency",
        "rate_count",
        "rate_seconds",
        "priority",
        "reason",
    ],
    ("POST", "/actions/queue-limits/reset/"): ["name", "reason"],
    ("POST", "/actions/bulk/"): [
        "job",
        "action",
        "scope",
        "run_ids",
        "as_of",
        "total",
        "token",
        "reason",
        "rate",
        "concurrency",
        "canary",
        "canary_max_failed",
        *FILTER,
    ],  # fmt: skip
    ("GET", "/jobs/"): [],
    ("POST", "/actions/job/"): ["job", "verb", "reason"],
    ("POST", "/actions/schedule/pause/"): ["name", "reason", "seen"],
    ("POST", "/actions/schedule/resume/"): ["name", "reason", "seen"],
    ("POST", "/actions/schedule/trigger/"): ["name", "reason", "seen"],
    ("POST", "/actions/drain/"): ["executor_id", "reason", "release_after"],
    ("POST", "/actions/undrain/"): ["executor_id", "reason"],
    ("POST", "/actions/patch/"): ["run_id", "position", "output", "seen"],
    ("GET", "/system/"): [],
    ("GET", "/alerts/"): [],
    ("GET", "/alerts/new/"): ["name", "kind", "workflow", "queue", "tag", "threshold"],
    ("POST", "/alerts/new/"): [
        "name",
        "kind",
        "enabled",
        "workflow",
        "queue",
        "tag",
        "threshold",
        "renotify_seconds",
        "webhook_url",
        "slack_url",
        "pagerduty_routing_key",
        "email_to",
    ],
    ("POST", "/actions/failure-triage/"): [
        "workflow",
        "step",
        "error_type",
        "fingerprint",
        "owner",
        "acknowledged",
        "muted_until",
        "muted_until_version",
        "ticket_url",
        "notes",
    ],
    ("GET", "/latency/steps/"): ["window", "workflow", "step"],
    ("GET", "/health"): ["skip"],
    ("GET", "/metrics"): [],
    ("GET", "/admin/durable/run/"): ["q", "status__exact", "o", "p"],
    ("GET", "/admin/durable/step/"): ["q", "status__exact", "kind__exact", "p"],
    ("GET", "/admin/durable/attempt/"): ["q", "p"],
    ("GET", "/admin/durable/auditentry/"): ["q", "action__exact", "p"],
    ("POST", "/accounts/login/"): ["username", "password", "next"],
}
COUNTS = {"requests": 0, "server_errors": 0}
# 700 in the full tier, a tenth in the fast tier (tests/tiers.py); DURABLE_FUZZ_EXAMPLES=20000
# for a long one
EXAMPLES = examples(700, "DURABLE_FUZZ_EXAMPLES")


@pytest.fixture
def fuzz_client(db, settings, monkeypatch) -> Client:
    """A superuser, a failed run, an API schedule and a live executor to act on; the
    executor "external" so that nothing a fuzzed action starts runs here."""
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_METRICS_TOKEN = "fuzz-tøken"
    monkeypatch.setattr(declared_schedules, "_schedules", {})
    make_failed_run(id="fuzz-target")
    durable.schedules.create("fuzz-sched", ping, cron="0 * * * *")
    store.heartbeat(executor_id="fuzz-exec", kind="thread", hostname="h", pid=1, workflows=[])
    admin = User.objects.create_superuser("fuzzer", "", "pw")
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    return client


@st.composite
def requests(draw):
    method, path = draw(st.sampled_from(sorted(ENDPOINTS)))
    names = ENDPOINTS[(method, path)]
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    params = {name: draw(VALUES) for name in chosen}
    for name, known in KNOWN_TARGETS.items():  # often aim at something that exists
        if name in names and name not in params and draw(st.booleans()):
            params[name] = known
    return method, path, params


KNOWN_TARGETS = {"run_id": "fuzz-target", "name": "fuzz-sched", "executor_id": "fuzz-exec",
                 "output": '{"ok": 1}', "position": "0"}  # fmt: skip


def _send(client: Client, method: str, path: str, params: dict, headers: dict | None = None) -> int:
    COUNTS["requests"] += 1
    if not Run.objects.filter(id="fuzz-target").exists():  # a fuzzed delete went through
        make_failed_run(id="fuzz-target")
    headers = dict(headers or {})
    content_type = headers.pop("CONTENT_TYPE", None)
    if method == "GET":
        return client.get(path, params, **headers).status_code
    if content_type:  # a hostile content type over a form-encoded body
        body = urlencode(params)
        return client.post(path, body, content_type=content_type, **headers).status_code
    return client.post(path, params, **headers).status_code


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=requests())
def test_no_form_or_query_parameter_causes_a_server_error(fuzz_client, request):
    method, path, params = request
    status = _send(fuzz_client, method, path, params)
    if status >= 500:
        COUNTS["server_errors"] += 1
    assert status < 500, (method, path, params)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(run_id=VALUES)
def test_no_run_path_causes_a_server_error(fuzz_client, run_id):
    COUNTS["requests"] += 1
    status = fuzz_client.get("/runs/" + quote(run_id, safe="/") + "/").status_code
    COUNTS["server_errors"] += status >= 500
    assert status < 500, run_id


PATHS = [
    "/values/{a}/{b}", "/values/run/{a}/{b}", "/values/step/{a}/{c}/{b}", "/compare/{b}?other={a}",
    "/edit-output/{a}/{b}", "/runs/{b}/", "/values/{a}/{b}?download=1", "/jobs/{a}/",
]  # fmt: skip
# path segments: often one of the shapes these views parse (a value name, a position)
SHAPES = ["fuzz-target", "0", "1", "output", "input", "error", "step-0-output", "step-²-output",
          "step-" + "9" * 5000 + "-output", "step--1-input", "step-0-x", "²", "9" * 5000,
          "fuzz\ntarget", "fuzz-target/../x", "é", "☃"]  # fmt: skip
SEGMENTS = st.one_of(st.sampled_from(SHAPES), VALUES)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(template=st.sampled_from(PATHS), a=SEGMENTS, b=SEGMENTS, c=SEGMENTS)
def test_no_debugging_or_value_path_causes_a_server_error(fuzz_client, template, a, b, c):
    path = template.format(a=quote(a, safe=""), b=quote(b, safe="/"), c=quote(c, safe=""))
    COUNTS["requests"] += 1
    status = fuzz_client.get(path).status_code
    COUNTS["server_errors"] += status >= 500
    assert status < 500, path


HEADERS = ["HTTP_AUTHORIZATION", "HTTP_ACCEPT", "HTTP_HX_REQUEST", "HTTP_HX_CURRENT_URL",
           "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_ACCEPT_LANGUAGE",
           "HTTP_REFERER", "HTTP_USER_AGENT", "HTTP_IF_MODIFIED_SINCE", "HTTP_RANGE",
           "HTTP_COOKIE", "HTTP_ORIGIN", "CONTENT_TYPE"]  # fmt: skip
# what a WSGI server hands Django: the header's raw bytes decoded as latin-1
HEADER_VALUES = st.one_of(
    VALUES.map(lambda text: text.encode("utf-8", "replace").decode("latin-1")),
    st.binary(max_size=60).map(lambda raw: raw.decode("latin-1")),
    st.sampled_from(["Bearer fuzz-tøken".encode().decode("latin-1"), "true", "text/html",
                     "application/openmetrics-text; version=1.0.0", "bytes=0-1"]),
)  # fmt: skip


HEADER_TARGETS = [("GET", "/metrics", {}), ("GET", "/health", {}), ("GET", "/", {}),
                  ("GET", "/runs/fuzz-target/", {}), ("GET", "/system/", {}),
                  ("GET", "/values/step-0-output/fuzz-target", {})]  # fmt: skip


@st.composite
def requests_with_headers(draw):
    """Any fuzzed request, or (as often) a page that reads headers itself (/metrics'
    Authorization and Accept, htmx's HX-Request), with hostile header values."""
    method, path, params = draw(st.one_of(requests(), st.sampled_from(HEADER_TARGETS)))
    names = draw(st.lists(st.sampled_from(HEADERS), unique=True, min_size=1))
    return method, path, params, {name: draw(HEADER_VALUES) for name in names}


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=requests_with_headers())
def test_no_header_causes_a_server_error(fuzz_client, request):
    method, path, params, headers = request
    status = _send(fuzz_client, method, path, params, headers)
    COUNTS["server_errors"] += status >= 500
    assert status < 500, (method, path, params, headers)


def test_report_fuzz_counts(capsys):
    """Prints how many requests the fuzz tests above sent (run with -s to see it)."""
    with capsys.disabled():
        print(f"\nHTTP fuzz: {COUNTS['requests']} requests, {COUNTS['server_errors']} errors")


KNOWN_HOSTILE = [
    ("GET", "/", {"cursor": _cursor("2024-01-01T00:00:00+00:00", "a\x00b", "older")}),
    ("GET", "/", {"cursor": _cursor("2024-01-01T00:00:00+23:59", "x", "older")}),
    ("GET", "/", {"cursor": _cursor("0001-01-01T00:00:00+05:00", "x", "newer")}),
    ("GET", "/", {"cursor": _cursor("9999-12-31T23:59:59-05:00", "x", "newer")}),
    ("GET", "/", {"cursor": _cursor("2024-01-01T00:00:00", "x", "older")}),
    ("GET", "/", {"cursor": _cursor("2024-01-01T00:00:00+00:00", ["x"], "older")}),
    ("GET", "/", {"cursor": base64.urlsafe_b64encode(b"[" * 5000).decode()}),
    ("GET", "/", {"since": "2024-01-01T00:00:00+23:59", "until": "0001-01-01T00:00:00+05:00"}),
    ("GET", "/", {"q": "a"}),
    ("GET", "/", {"tag": "k=" + "v" * 300}),
    ("GET", "/audit/", {"before": "9" * 30}),
    ("GET", "/audit/", {"before": "9" * 5000}),
    ("GET", "/runs/a%00b/", {}),
    ("POST", "/accounts/login/", {"username": "9" * 3000, "password": "9" * 3000}),
    ("POST", "/actions/fork/", {"run_id": "fuzz-target", "from_step": "9" * 30}),
    ("POST", "/actions/fork/", {"run_id": "fuzz-target", "from_step": "1", "input": "[" * 5000}),
    ("POST", "/actions/patch/", {"run_id": "fuzz-target", "position": "0", "output": "[" * 5000}),
    ("POST", "/actions/patch/", {"run_id": "fuzz-target", "position": "0", "output": "9" * 5000}),
    ("POST", "/actions/patch/", {"run_id": "fuzz\ntarget", "position": "0", "output": "1"}),
    ("GET", "/values/step-²-output/fuzz-target", {}),
    ("GET", "/values/step-" + "9" * 5000 + "-output/fuzz-target", {}),
    ("GET", "/metrics", {}),
    ("GET", "/health", {"skip": "executors,☃"}),
    (
        "POST",
        "/actions/bulk/",
        {
            "action": "cancel",
            "scope": "matching",
            "total": "1",
            "as_of": "2024-01-01T00:00:00+23:59",
        },
    ),  # fmt: skip
]


@pytest.mark.parametrize(("method", "path", "params"), KNOWN_HOSTILE)
def test_known_hostile_inputs_are_answered_without_a_server_error(
    fuzz_client, method, path, params
):
    assert _send(fuzz_client, method, path, params) < 500


def test_the_edit_page_of_the_step_that_ended_a_failed_run_says_no_fork_can_follow(fuzz_client):
    """Editing the failed last step's predecessor previews a fork from the failed step, which
    would only replay the failure: the page says so instead of answering 500."""
    response = fuzz_client.get("/edit-output/1/fuzz-target")
    assert response.status_code == 200
    assert "No fork can start after this step" in response.content.decode()


@pytest.mark.parametrize("header", ["HTTP_ACCEPT", "HTTP_USER_AGENT", "HTTP_X_CUSTOM"])
def test_a_header_with_a_nul_byte_is_refused_before_anything_stores_it(db, header):
    """HTTP forbids NUL in a field value (RFC 9110 §5.5: reject the message or replace it).
    A failed login stores the Accept and User-Agent headers (django-axes), and PostgreSQL
    holds no NUL in text: the request is refused with a 400, and nothing is recorded."""
    from axes.models import AccessAttempt

    response = Client().post(
        "/accounts/login/", {"username": "someone", "password": "wrong"}, **{header: "a\x00b"}
    )
    assert response.status_code == 400
    assert "NUL byte" in response.content.decode()
    assert not AccessAttempt.objects.exists()
