"""Optional scripts other parts of the project own (Celery throughput, dashboard pages).

Contract, kept loose on purpose: the suite runs `python bench/<script> [--quick]
[--workers N] [--json PATH]`, passing each option only when the script's `--help` lists
it. With `--json` it reads the object the script wrote; otherwise it tries the last line
of stdout as JSON, and failing that keeps the script's stdout tail as text. A missing
script is reported as skipped, never as a failure of the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent


def script_options(path: Path) -> str:
    try:
        done = subprocess.run(
            [sys.executable, str(path), "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=BENCH_DIR.parent,
        )
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout + done.stderr


def run_script(
    name: str,
    *,
    quick: bool,
    timeout: float,
    workers: int | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    path = BENCH_DIR / name
    if not path.exists():
        return {"status": "skipped", "message": f"bench/{name} is absent (not written yet)"}
    options = script_options(path)
    if quick and "--quick" not in options:
        return {"status": "skipped", "message": f"bench/{name} has no --quick mode"}
    with tempfile.TemporaryDirectory() as scratch:
        json_path = Path(scratch) / "result.json"
        command = [sys.executable, str(path)]
        if quick:
            command.append("--quick")
        if workers is not None and "--workers" in options:
            command += ["--workers", str(workers)]
        if "--json" in options:
            command += ["--json", str(json_path)]
        return _run(command, json_path, timeout, {**os.environ, **(env or {})})


def _run(
    command: list[str], json_path: Path, timeout: float, env: dict[str, str]
) -> dict[str, Any]:
    print(f"  … {' '.join(command[1:])}", file=sys.stderr, flush=True)
    try:
        done = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            cwd=BENCH_DIR.parent,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "message": f"no result within {timeout:.0f}s"}
    result: dict[str, Any] = {
        "status": "ok" if done.returncode == 0 else "failed",
        "returncode": done.returncode,
        "command": command[1:],
    }
    data = _read_json(json_path, done.stdout)
    if data is not None:
        result["data"] = data
    else:
        result["stdout_tail"] = done.stdout.strip().splitlines()[-20:]
    return result


def _read_json(json_path: Path, stdout: str) -> Any:
    if json_path.exists():
        try:
            return json.loads(json_path.read_text())
        except ValueError:
            return None
    lines = stdout.strip().splitlines()
    if lines:
        try:
            return json.loads(lines[-1])
        except ValueError:
            return None
    return None
