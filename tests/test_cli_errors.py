"""Every command's errors, as a user meets them: one line ``redis-client <command>: error: ...`` on
stderr, exit 2 for bad settings or arguments, never a traceback; ``--version``; the line that
says what the startup wait waits for; ``server`` says when its data is temporary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from redis_client.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m redis_client ...`` with no terminal on stdin and only ``env``'s REDIS_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}
    return subprocess.run(
        [sys.executable, "-m", "redis_client", *args], cwd=ROOT, env=clean | (env or {}),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
    )


def assert_one_error_line(proc: subprocess.CompletedProcess[str], command: str, *words: str) -> str:
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"redis-client {command}: error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_version_names_the_distribution() -> None:
    proc = cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"redis-client {version('twitter-agent-redis')} (twitter-agent-redis)"


@pytest.mark.parametrize(
    ("args", "command", "words"),
    [
        (["server", "--port", "70000"], "server", ["--port", "70000", "1-65535"]),
        (["server", "--port", "-1"], "server", ["--port", "-1"]),
        (["server", "--port", "http"], "server", ["--port", "not a number"]),
        (["server", "--dir", "/proc/nope"], "server", ["--dir", "/proc/nope"]),
        (["server", "--dir", "/etc/hostname"], "server", ["--dir", "/etc/hostname"]),
        (["migrate", "run", "--batch-size", "0"], "migrate run", ["--batch-size"]),
        (["migrate", "run", "--batch-size", "many"], "migrate run", ["--batch-size", "not a number"]),
        (["migrate", "run", "--ray", "--workers", "0"], "migrate run", ["--workers"]),
        (["migrate", "run", "--resync", "--dry-run"], "migrate run", ["--resync", "--dry-run"]),
        (["migrate", "verify", "--limit", "-5"], "migrate verify", ["--limit"]),
        (["migrate", "frobnicate"], "migrate", ["invalid choice"]),
        (["migrate", "rollback", "0099_nope"], "migrate rollback", ["unknown migration", "0099_nope"]),
        (["sync", "--interval", "0"], "sync", ["--interval"]),
        (["sync", "--interval", "nan"], "sync", ["--interval", "finite"]),
        (["sync", "--lease-timeout", "inf"], "sync", ["--lease-timeout", "finite"]),
        (["sync", "--full-interval", "-1"], "sync", ["--full-interval"]),
        (["sync", "--full"], "sync", ["--full", "--once"]),
        (["sync", "--once", "--no-such-option"], "sync", ["--no-such-option"]),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], command: str, words: list[str]) -> None:
    # REDIS_URL points nowhere: every case must be refused before any connection is tried.
    proc = cli(*args, env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "REDIS_STARTUP_WAIT": "30"})
    assert_one_error_line(proc, command, *words)


def test_no_command_is_one_line() -> None:
    proc = cli()
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("redis-client: error: ")


BAD_SETTINGS = [
    ({"REDIS_URL": "redis:/127.0.0.1:6390"}, ["REDIS_URL", "no host"]),
    ({"REDIS_URL": "redis://127.0.0.1:6390/x"}, ["REDIS_URL", "database", "not a number"]),
    ({"REDIS_URL": "redis://127.0.0.1:6390?db=one"}, ["REDIS_URL", "database"]),
    ({"REDIS_URL": "redis://127.0.0.1:99999/0"}, ["REDIS_URL", "port"]),
    ({"REDIS_URL": "http://127.0.0.1:6390/0"}, ["REDIS_URL", "scheme"]),
    ({"REDIS_DB": "zero"}, ["REDIS_DB", "integer"]),
    ({"REDIS_PORT": "70000"}, ["REDIS_PORT"]),
    ({"REDIS_STARTUP_WAIT": "soon"}, ["REDIS_STARTUP_WAIT"]),
]


@pytest.mark.parametrize(
    ("command", "env", "words"),
    [("migrate status", env, words) for env, words in BAD_SETTINGS]
    + [(command, env, words) for command in ("sync --once", "demo", "migrate rollback --yes")
       for env, words in BAD_SETTINGS[:2]],
)
def test_bad_settings_are_one_line_naming_the_variable(
    command: str, env: dict[str, str], words: list[str]
) -> None:
    proc = cli(*command.split(), env=env)
    assert_one_error_line(proc, command.split(" --")[0], *words)


def test_the_password_in_a_bad_url_is_not_shown() -> None:
    proc = cli("migrate", "status", env={"REDIS_URL": "redis://user:s3cret-pw@127.0.0.1:6390/x"})
    assert_one_error_line(proc, "migrate status", "REDIS_URL")
    assert "s3cret-pw" not in proc.stderr + proc.stdout


def test_a_database_the_server_does_not_have(redis_settings) -> None:
    url = (redis_settings.url or "").rsplit("/", 1)[0] + "/99"
    proc = cli("migrate", "status", env={"REDIS_URL": url})
    assert_one_error_line(proc, "migrate status", "REDIS_DB", "out of range")


@pytest.mark.parametrize("command", ["migrate status", "sync --once", "demo"])
def test_the_startup_wait_says_what_it_waits_for(command: str) -> None:
    port = free_port()
    proc = cli(*command.split(), env={"REDIS_URL": f"redis://127.0.0.1:{port}/0", "REDIS_STARTUP_WAIT": "1"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    said = proc.stdout + proc.stderr
    assert f"waiting up to 1s (REDIS_STARTUP_WAIT) for Redis at redis://127.0.0.1:{port}/0" in said
    error = proc.stderr.splitlines()[-1]
    assert error.startswith(f"redis-client {command.split(' --')[0]}: error: ")
    assert "not ready after 1s" in error


def test_no_wait_line_when_the_server_answers(redis_settings) -> None:
    proc = cli("migrate", "status", env={"REDIS_URL": redis_settings.url or ""})
    assert proc.returncode == 0, proc.stderr
    assert "waiting" not in proc.stderr + proc.stdout


def test_server_port_taken_is_one_line(redis_server) -> None:
    proc = cli("server", "--port", str(redis_server.port))
    line = assert_one_error_line(proc, "server", "in use", str(redis_server.port))
    assert line.endswith("(more with -v)") or "\n" not in line


def test_server_says_its_temporary_data_is_deleted_on_stop() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_client", "server"], cwd=ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "temporary data, deleted on stop (--dir PATH keeps it)" in line, line
        data = Path(line.split("(data: ")[1].split(")")[0])
        assert data.is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert not data.exists()
