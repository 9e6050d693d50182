"""The CLI operates a remote deployment through the API (`--server`, `--token`, or
DURABLE_SERVER / DURABLE_TOKEN), in a subprocess with no database of its own; and
`durable token create|list|revoke` manages tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from dashboard import tokens
from dashboard.models import ApiToken
from durable.models import AuditEntry, Run
from tests.dashboard.conftest import make_dead_owners_run, make_failed_run, make_run

ROOT = Path(__file__).resolve().parents[3]


def durable_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`manage.py durable …` in a fresh process whose database does not exist: whatever it
    does, it does through the server."""
    environment = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none", **env}
    return subprocess.run(
        [sys.executable, "manage.py", "durable", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def remote(live_server, owner, settings):
    settings.DURABLE_EXECUTOR = "external"  # the resumed run waits; nothing runs it here
    return live_server.url, tokens.create(owner, "cli", "operate").secret


def test_the_cli_resumes_a_run_on_a_live_server_and_the_audit_names_the_user(remote):
    server, secret = remote
    make_failed_run(id="r-remote", workflow="not.registered")
    done = durable_cli(
        "resume", "r-remote", "--reason", "from my laptop", "--server", server, "--token", secret
    )
    assert done.returncode == 0, done.stderr
    assert "resume: r-remote" in done.stdout
    assert Run.objects.get(id="r-remote").status == "ENQUEUED"
    assert AuditEntry.objects.get(action="resume").actor.startswith("owner via API token dur_")


def test_the_cli_lists_shows_and_cancels_with_environment_variables(remote):
    server, secret = remote
    make_run(
        id="r-waiting",
        status="ENQUEUED",
        started_at=None,
        finished_at=None,
        workflow="not.registered",
    )
    env = {"DURABLE_SERVER": server, "DURABLE_TOKEN": secret}
    listed = durable_cli("list", "--status", "enqueued", **env)
    assert listed.returncode == 0, listed.stderr
    assert "r-waiting" in listed.stdout
    shown = durable_cli("show", "r-waiting", **env)
    assert "status    ENQUEUED" in shown.stdout
    cancelled = durable_cli("cancel", "r-waiting", "--reason", "bad deploy", **env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert Run.objects.get(id="r-waiting").status == "CANCELLED"


def test_the_cli_says_when_a_cancelled_runs_executor_died(remote, short_lease):
    server, secret = remote
    make_dead_owners_run("r-orphaned")
    cancelled = durable_cli(
        "cancel", "r-orphaned", "--reason", "bad deploy", "--server", server, "--token", secret
    )
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancel: r-orphaned" in cancelled.stdout
    assert "not confirmed r-orphaned: its executor thread:gone:1:r-orphaned died" in (
        cancelled.stderr
    )
    assert "stays CANCELLED" in cancelled.stderr


def test_the_cli_shows_a_run_whose_id_spells_a_route(remote):
    server, secret = remote
    make_run(id="actions/preview")
    shown = durable_cli("show", "actions/preview", "--server", server, "--token", secret)
    assert shown.returncode == 0, shown.stderr
    assert "run       actions/preview" in shown.stdout


def test_the_cli_tells_the_servers_refusal(remote):
    server, secret = remote
    make_run(id="r-done")
    done = durable_cli("resume", "r-done", "--reason", "x", "--server", server, "--token", secret)
    assert done.returncode != 0
    assert "409" in done.stderr and "already succeeded" in done.stderr


def test_a_remote_action_needs_a_reason_and_a_token(remote):
    server, secret = remote
    assert (
        "requires --reason"
        in durable_cli("resume", "r-1", "--server", server, "--token", secret).stderr
    )
    assert "needs --token" in durable_cli("resume", "r-1", "--server", server).stderr


def test_token_create_list_revoke(owner):
    out, err = StringIO(), StringIO()
    call_command(
        "durable",
        "token",
        "create",
        "--user",
        "owner",
        "--name",
        "bot",
        "--scope",
        "operate",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().strip()
    assert tokens.find(secret).user == owner
    listing = StringIO()
    call_command("durable", "token", "list", stdout=listing)
    prefix = ApiToken.objects.get().prefix
    assert prefix in listing.getvalue() and secret not in listing.getvalue()
    call_command("durable", "token", "revoke", prefix, stdout=StringIO())
    assert tokens.find(secret) is None


def test_token_create_refuses_a_scope_above_the_users_permissions(viewer):
    with pytest.raises(CommandError, match="lacks the 'operate runs' permission"):
        call_command(
            "durable",
            "token",
            "create",
            "--user",
            "viewer",
            "--name",
            "bot",
            "--scope",
            "operate",
            stdout=StringIO(),
        )


@pytest.mark.parametrize(
    "server", ["not-a-url", "http://[::1", "http://127.0.0.1:99999", "file:///etc", "ftp://h/x",
               "http://host/a b"],
)  # fmt: skip
def test_a_server_that_is_no_http_url_is_refused_naming_it(server):
    with pytest.raises(CommandError, match="^--server "):
        call_command("durable", "list", "--server", server, "--token", "dur_x_y", stdout=StringIO())


def test_a_token_no_http_header_can_carry_is_refused():
    with pytest.raises(CommandError, match="--token"):
        call_command(
            "durable",
            "list",
            "--server",
            "http://127.0.0.1:9",
            "--token",
            "dur_☃",
            stdout=StringIO(),
        )


class _NotTheApi(BaseHTTPRequestHandler):
    """A sign-in page, as a proxy in front of the dashboard may answer: 200, HTML."""

    def do_GET(self) -> None:
        body = b"[1, 2]" if "json" in self.path else b"<html>Sign in</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on a free port, answering with `handler`; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def not_the_api():
    yield from _serve(_NotTheApi)


@pytest.mark.parametrize("path", ["", "/json"])
def test_an_answer_that_is_not_the_apis_is_a_clear_error(not_the_api, path):
    with pytest.raises(CommandError, match="not the API's answer.*--server"):
        call_command(
            "durable", "list", "--server", not_the_api + path, "--token", "dur_x_y",
            stdout=StringIO(),
        )  # fmt: skip


class _AnotherService(BaseHTTPRequestHandler):
    """Another service's API at the given URL: 200 and JSON, of a shape of its own."""

    body = b"{}"

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def another_service():
    yield from _serve(_AnotherService)


WRONG_SHAPES = [
    b'{"status": "ok", "version": "2.4.1"}',  # a health endpoint
    b'{"runs": 3}',
    b'{"runs": [1, 2]}',
    b'{"runs": [{"id": "r-1"}]}',
    b'{"run": {"id": "r-1"}, "steps": []}',
    b'{"run": {"id": "r-1", "workflow": "w", "status": "SUCCESS", "input": null}, "steps": "no"}',
    b'{"result_run_id": 7, "repeated": false}',
]
COMMANDS = [["list"], ["list", "--json"], ["show", "r-1"], ["resume", "r-1", "--reason", "x"]]


@pytest.mark.parametrize("body", WRONG_SHAPES)
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_answer_of_the_wrong_shape_is_a_clear_error_naming_the_server(
    another_service, monkeypatch, command, body
):
    monkeypatch.setattr(_AnotherService, "body", body)
    with pytest.raises(CommandError) as refused:
        call_command("durable", *command, "--server", another_service, "--token", "dur_x_y",
                     stdout=StringIO())  # fmt: skip
    message = str(refused.value)
    assert message.startswith(f"{another_service} answered 200, but not as the Durable API")
    assert "expected" in message and "--server" in message
