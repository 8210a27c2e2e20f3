"""Live: posts added through ``db.add_user_post`` while the migration runs are neither lost
nor duplicated."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

import redis
from legacy_data import ROOT, applied, assert_posts_exact, run_cli, seed, usernames

from redis_client.core import keys


def test_posts_added_during_the_run(raw: redis.Redis, redis_db: Any) -> None:
    seeded = seed(raw, posts=30_000, accounts=30)
    names = usernames(30)
    shared = sorted(seeded.post_ids)[:200]  # existing ids, added again under another account
    extra: dict[str, set[str]] = defaultdict(set)
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_client", "migrate", "run", "--batch-size", "200"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    checkpoint = keys.migration_checkpoint("0002_posts")
    added = during = 0
    try:
        while proc.poll() is None:
            i = added
            username = names[i % len(names)] if i % 4 else f"live user:{i % 7}"
            if i % 3 == 0 and i // 3 < len(shared):
                post_id = shared[i // 3]
                text = f"again {post_id}"
            else:
                post_id = f"live{i}"
                text = f"live post {i}"
            post = {"id": post_id, "text": text, "sender_username": username,
                    "timestamp": 1_700_000_000 + i}
            redis_db.add_user_post(username, post)
            if i % 5 == 0:
                redis_db.add_user_post(username, post)  # the same post twice: still once
            extra[post_id].add(username)
            added += 1
            done = int(raw.hget(checkpoint, "processed") or 0)
            if done > 0 and "0002_posts" not in applied(raw):
                during += 1
            time.sleep(0.001)
    finally:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert during > 20, f"only {during} posts were added while the posts migration ran"
    assert_posts_exact(raw, seeded, extra=extra)
    verify = run_cli("verify")
    assert verify.returncode == 0, verify.stdout
