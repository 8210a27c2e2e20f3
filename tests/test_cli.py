"""`redis-client server`: the embedded Redis in the foreground, as an operator runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import redis

from redis_client.embedded import free_port


def _start_server(port: int, data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_client", "server", "--port", str(port), "--dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


def test_server_serves_search_and_json_and_keeps_data(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    proc, line = _start_server(port, data)
    try:
        assert f"redis://127.0.0.1:{port}/0" in line, line
        client = redis.Redis(port=port)
        assert client.execute_command("FT._LIST") == []
        client.execute_command("JSON.SET", "doc", "$", '{"a": 1}')
        client.set("plain", "kept")
    finally:
        assert _stop(proc) == 0
    proc, line = _start_server(port, data)
    try:
        client = redis.Redis(port=port)
        assert client.get("plain") == b"kept"
        assert client.execute_command("JSON.GET", "doc", "$.a") == b"[1]"
    finally:
        assert _stop(proc) == 0


def test_server_port_taken_is_a_clear_error(tmp_path, redis_server):
    result = subprocess.run(
        [sys.executable, "-m", "redis_client", "server", "--port", str(redis_server.port),
         "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "in use" in result.stderr and str(redis_server.port) in result.stderr

