"""The operator's path: ``python -m redis_client migrate ...`` against the test server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import legacy_data
import redis
from legacy_data import (
    ALL_MIGRATIONS,
    ROOT,
    SECRET,
    Seeded,
    account_records,
    applied,
    assert_posts_exact,
    run_cli,
    seed,
    snapshot,
)

from redis_client.core import keys
from redis_client.embedded import EmbeddedRedis
from redis_client.models.account import SECRET_FIELDS

seeded = legacy_data.seeded  # the fixture


def _no_secret(*outputs: str) -> None:
    for text in outputs:
        assert SECRET not in text


def test_operator_session(raw: redis.Redis, seeded: Seeded) -> None:
    before = snapshot(raw, legacy_only=False)

    inv = run_cli("inventory")
    assert inv.returncode == 0, inv.stderr
    assert "posted_tweets:{username}" in inv.stdout and "events:stream" in inv.stdout
    assert "posted_tweets:wrongtype" in inv.stdout

    pre = run_cli("verify")
    assert pre.returncode == 1
    assert "DIFFERENCES FOUND" in pre.stdout and "without a Post record" in pre.stdout

    dry = run_cli("run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: nothing was written." in dry.stdout
    line = next(x for x in dry.stdout.splitlines() if x.startswith("0002_posts"))
    would = int(line.split("about ")[1].split()[0])
    assert len(seeded.post_ids) <= would <= seeded.valid_posts, line
    assert snapshot(raw, legacy_only=False) == before  # a dry run writes nothing at all

    run = run_cli("run", "--batch-size", "250")
    assert run.returncode == 0, run.stderr
    assert "applied: 0001_indexes, 0002_posts, 0003_accounts" in run.stdout
    assert f"{seeded.valid_posts} posts in" in run.stdout
    assert "posts/s" in run.stdout and "skipped, by reason:" in run.stdout
    assert "Field required" in run.stdout  # the reasons, with member previews
    assert applied(raw) == set(ALL_MIGRATIONS)
    assert_posts_exact(raw, seeded)

    records = account_records(raw)
    assert set(records) == seeded.valid_accounts
    for username, doc in records.items():
        assert not SECRET_FIELDS & set(doc) and SECRET not in json.dumps(doc)
        assert doc["name"] == f"Name {username}"
        for action in keys.ACTION_TYPES:
            assert doc[action] == seeded.action_times[username].get(action)

    status = run_cli("status")
    assert status.returncode == 0
    assert status.stdout.count("applied") >= 3
    report = run_cli("status", "--report", "0002_posts")
    assert report.returncode == 0
    assert len(report.stdout.splitlines()) == seeded.bad_members + len(seeded.bad_post_keys)

    ok = run_cli("verify")
    assert ok.returncode == 0, ok.stdout
    assert "verify: OK" in ok.stdout

    again = run_cli("run")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    _no_secret(*(p.stdout + p.stderr for p in (inv, pre, dry, run, status, report, ok, again)))


def test_refuses_a_server_without_modules(tmp_path: object) -> None:
    server = EmbeddedRedis(modules=False).start()
    try:
        client = redis.Redis.from_url(server.url)
        seed(client, posts=200, accounts=5, bad_members=3)
        before = snapshot(client, legacy_only=False)
        proc = run_cli("run", env={"REDIS_URL": server.url})
        assert proc.returncode == 2
        assert "lacks" in proc.stderr and "JSON" in proc.stderr
        assert snapshot(client, legacy_only=False) == before
        client.close()
    finally:
        server.stop()


def _om(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    om = os.path.join(os.path.dirname(sys.executable), "om")
    return subprocess.run(
        [om, "migrate-data", *args], cwd=ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, **env},
    )


def test_runs_under_redis_oms_own_cli(raw: redis.Redis, seeded: Seeded) -> None:
    url = os.environ["REDIS_URL"]
    other_db = url.rsplit("/", 1)[0] + "/1"
    wrong = _om("run", "--module", "redis_client.migrations", "--yes", env={"REDIS_OM_URL": other_db})
    assert wrong.returncode != 0
    assert "REDIS_OM_URL" in wrong.stdout + wrong.stderr
    assert applied(raw) == set() and not list(raw.scan_iter(match="redis_client_om:post:*"))

    proc = _om("run", "--module", "redis_client.migrations", "--yes", env={"REDIS_OM_URL": url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert applied(raw) == set(ALL_MIGRATIONS)
    assert_posts_exact(raw, seeded)
    status = run_cli("status")
    assert status.stdout.count("applied") >= 3
    assert run_cli("verify").returncode == 0

    back = _om("rollback", "0003_accounts", "--module", "redis_client.migrations", "--yes",
               env={"REDIS_OM_URL": url})
    assert back.returncode == 0, back.stdout + back.stderr
    assert applied(raw) == {"0001_indexes", "0002_posts"}
    assert account_records(raw) == {}


def test_progress_bar_on_a_terminal_log_lines_otherwise(raw: redis.Redis) -> None:
    import fcntl
    import pty
    import struct
    import termios

    seed(raw, posts=2000, accounts=10)
    plain = run_cli("run", "--dry-run")
    assert "INFO redis_client.migrate: 0002_posts (dry run): 2" in plain.stderr
    assert "\r" not in plain.stderr

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_client", "migrate", "run"], cwd=ROOT,
        stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=dict(os.environ),
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert "0002_posts: 100%|" in terminal and "posts/s]" in terminal
    assert "applied: 0001_indexes, 0002_posts, 0003_accounts" in proc.stdout.read().decode()  # type: ignore[union-attr]
