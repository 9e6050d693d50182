"""`durable list|show|resume|restart|cancel --server URL --token T`: the same commands
against a remote deployment, through its HTTP API (the dashboard's `api/`), with nothing but
the standard library. `DURABLE_SERVER` and `DURABLE_TOKEN` stand in for the flags.

The server URL is where the dashboard is mounted (e.g. https://ops.example.com/durable).
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from durable.errors import DurableError

COMMANDS = ("list", "show", "resume", "restart", "cancel")
TIMEOUT_SECONDS = 30

# what each command reads of an answer: a key's value is a type, a shape, or [a shape] for a
# list of them (the API's schema has more; these are the fields printed)
RUN_ROW = {"id": str, "workflow": str, "status": str, "created_at": str, "error_type": str}
RUNS_PAGE = {"runs": [RUN_ROW]}
RUN = {"run": {"id": str, "workflow": str, "status": str, "input": object},
       "steps": [{"position": int, "name": str, "status": str, "attempts": int}]}  # fmt: skip
ACTION_RESULT = {"result_run_id": str, "repeated": bool}


class RemoteError(DurableError):
    """The server refused, or could not be reached; the message says which and why."""


def add_remote_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        help="operate a remote deployment through its HTTP API: "
        "the dashboard's URL (or DURABLE_SERVER)",
    )
    parser.add_argument(
        "--token", help="an API token from the dashboard's Tokens page (or DURABLE_TOKEN)"
    )


def target(options: dict[str, Any]) -> tuple[str, str] | None:
    """(server, token) when this command is to run remotely, else None; both checked, as
    any argument from outside is."""
    server = options.get("server") or os.environ.get("DURABLE_SERVER", "")
    if not server:
        return None
    token = options.get("token") or os.environ.get("DURABLE_TOKEN", "")
    if not token:
        raise RemoteError(
            "--server needs --token (or DURABLE_TOKEN): make one on the dashboard's Tokens page"
        )
    if not (token.isascii() and token.isprintable()):
        raise RemoteError(
            "--token holds characters an HTTP header cannot carry: copy the token as the "
            "Tokens page showed it (dur_…)"
        )
    return _server_url(server), token


def _server_url(server: str) -> str:
    """The dashboard's http(s) URL, without a trailing slash."""
    example = "give the dashboard's URL, e.g. https://ops.example.com/durable"
    try:
        parts = urllib.parse.urlsplit(server)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise RemoteError(f"--server {server!r:.100}: {exc}; {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"--server {server!r:.100} is not an http(s) URL; {example}")
    if not server.isprintable() or " " in server:
        raise RemoteError(f"--server {server!r:.100} holds spaces or control characters; {example}")
    return server.rstrip("/")


def call(
    server: str, token: str, method: str, path: str, shape: dict[str, Any], body: Any = None
) -> Any:
    """One API call whose answer has `shape`; a problem answer becomes a RemoteError with
    the server's words, an answer of another shape one naming the server and the shape."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{server}/api{path}",
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        raise RemoteError(f"the server answered {exc.code}: {_detail(exc)}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise RemoteError(f"cannot reach {server}: {exc}; check --server") from None
    except ValueError:  # not JSON: a proxy's sign-in page, or another site
        answer = None
    if not isinstance(answer, dict):
        raise RemoteError(
            f"{server} answered, but not the API's answer (a JSON object): check that --server "
            "is the dashboard's URL, where its api/ is"
        )
    if not _fits(answer, shape):
        raise RemoteError(
            f"{server} answered 200, but not as the Durable API does to {method} api{path}: "
            f"expected {_described(shape)}; check that --server is a Durable dashboard's URL, "
            "where its api/ is"
        )
    return answer


def _fits(value: Any, shape: Any) -> bool:
    if isinstance(shape, dict):
        return isinstance(value, dict) and all(
            key in value and _fits(value[key], inner) for key, inner in shape.items()
        )
    if isinstance(shape, list):
        return isinstance(value, list) and all(_fits(item, shape[0]) for item in value)
    return isinstance(value, shape) and not (shape is int and isinstance(value, bool))


def _described(shape: Any) -> str:
    """`{"runs": [{"id": str, …}]}` as a reader would write it: {runs: [{id, …}]}."""
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{key}: {_described(inner)}" if isinstance(inner, dict | list)
                               else key for key, inner in shape.items()) + "}"  # fmt: skip
    return f"[{_described(shape[0])}, …]"


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        problem = json.load(exc)
    except ValueError:
        return exc.reason
    if not isinstance(problem, dict):
        return exc.reason
    return str(problem.get("detail") or problem.get("title") or exc.reason)


def handle(command, subcommand: str, server: str, token: str, options: dict[str, Any]) -> None:
    if subcommand == "list":
        return _list(command, server, token, options)
    if subcommand == "show":
        return _show(command, server, token, options)
    reason = (options.get("reason") or "").strip()
    if not reason:
        raise RemoteError(f"the server requires --reason for {subcommand} (it is audited)")
    for run_id in options["run_ids"]:
        answer = call(
            server,
            token,
            "POST",
            f"/runs/actions/{subcommand}",
            ACTION_RESULT,
            {"run_id": run_id, "reason": reason},
        )
        carried = answer["result_run_id"]
        again = " (already done by an earlier request)" if answer["repeated"] else ""
        new = f" as {carried}" if carried != run_id else ""
        command.stdout.write(f"{subcommand}: {run_id}{new}{again}")
        _tell_unconfirmed(command, answer)


def _tell_unconfirmed(command, answer: dict[str, Any]) -> None:
    """A cancel's runs whose executor did not confirm the stop, each with why, as the local
    command tells them (an older server's answer has none)."""
    unconfirmed = answer.get("unconfirmed")
    if isinstance(unconfirmed, dict):
        for run_id, why in unconfirmed.items():
            command.stderr.write(f"not confirmed {run_id}: {why}")


def _list(command, server: str, token: str, options: dict[str, Any]) -> None:
    names = ("status", "workflow", "error_type", "limit")
    query = {name: options.get(name) for name in names}
    path = "/runs?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
    runs = call(server, token, "GET", path, RUNS_PAGE)["runs"]
    if options.get("json"):
        command.stdout.write(json.dumps(runs, indent=2))
        return
    for run in runs:
        command.stdout.write(
            f"{run['id']}  {run['workflow']}  {run['status']}  "
            f"{run['created_at'][:19]}  {run['error_type']}"
        )
    if not runs:
        command.stdout.write("(no rows)")


def _show(command, server: str, token: str, options: dict[str, Any]) -> None:
    run_id = urllib.parse.quote(options["run_id"], safe="")
    found = call(server, token, "GET", f"/runs/{run_id}", RUN)
    if options.get("json"):
        command.stdout.write(json.dumps(found, indent=2))
        return
    run = found["run"]
    command.stdout.write(
        f"run       {run['id']}\nworkflow  {run['workflow']}\n"
        f"status    {run['status']}\ninput     {run['input']}"
    )
    for step in found["steps"]:
        command.stdout.write(
            f"{step['position']}  {step['name']}  {step['status']}  {step['attempts']} attempt(s)"
        )
