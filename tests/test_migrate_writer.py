"""``BatchWriter``: batches written in order, each checkpoint committed after its batch."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis

from redis_client.core import keys
from redis_client.migrate.checkpoint import Checkpoint, Position
from redis_client.migrate.writer import BatchWriter, Job, WriteOutcome
from redis_client.records.bad import bad_item


def _job(batch: Any, cursor: int, items: int, finished: list[bytes] | None = None) -> Job:
    return Job(batch=batch, position=Position(cursor=cursor), counters={"items": items},
               finished=finished or [], bad=[], new_page=False)


@pytest.mark.parametrize("threaded", [False, True], ids=["inline", "thread"])
def test_batches_in_order_and_checkpoint_after_each(
    raw: redis.Redis, redis_db: Any, threaded: bool
) -> None:
    checkpoint = Checkpoint(raw, "m")
    seen: list[tuple[int, int]] = []  # (batch, the checkpoint's cursor when it was written)

    def write(batch: int) -> WriteOutcome:
        time.sleep(0.01)
        seen.append((batch, checkpoint.load()[0].cursor))
        return WriteOutcome(created=batch, updated=1)

    writer = BatchWriter(write, checkpoint, threaded)
    for i in range(1, 6):
        writer.submit(_job(i, cursor=i, items=10 * i, finished=[f"k{i}".encode()]))
    writer.close()
    assert seen == [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4)]  # batch n written after n-1 committed
    position, counters = checkpoint.load()
    assert position.cursor == 5
    # The reader's counters plus what the writes did so far.
    assert counters["items"] == 50 and counters["created"] == 15 and counters["updated"] == 5
    assert (writer.totals.created, writer.totals.updated) == (15, 5)
    assert checkpoint.done_among([b"k1", b"k5"]) == [True, True]


def test_items_that_cannot_be_written_count_as_skipped(raw: redis.Redis, redis_db: Any) -> None:
    checkpoint = Checkpoint(raw, "m")

    def write(batch: list[str]) -> WriteOutcome:
        return WriteOutcome(created=len(batch) - 1, failed=[bad_item("posted_tweets:a", "WRONGTYPE")])

    writer = BatchWriter(write, checkpoint, threaded=False)
    writer.submit(_job(["a", "b", "c"], cursor=0, items=3))
    writer.close()
    counters = checkpoint.load()[1]
    assert counters["items"] == 2 and counters["skipped"] == 1 and counters["created"] == 2
    assert raw.hlen(keys.migration_report("m")) == 1 == raw.hlen("redis_client_om:migration:{m}:report")


def test_an_empty_batch_still_commits(raw: redis.Redis, redis_db: Any) -> None:
    calls: list[Any] = []
    checkpoint = Checkpoint(raw, "m")
    writer = BatchWriter(lambda b: calls.append(b) or WriteOutcome(), checkpoint, threaded=False)
    writer.submit(_job(None, cursor=9, items=0))
    writer.close()
    assert calls == [] and checkpoint.load()[0].cursor == 9


def test_a_write_error_reaches_the_reader_and_stops_the_commits(raw: redis.Redis, redis_db: Any) -> None:
    checkpoint = Checkpoint(raw, "m")
    started = threading.Event()

    def write(batch: int) -> WriteOutcome:
        started.set()
        if batch == 2:
            raise redis.ConnectionError("gone")
        return WriteOutcome(created=1)

    writer = BatchWriter(write, checkpoint, threaded=True)
    writer.submit(_job(1, cursor=1, items=1))
    writer.submit(_job(2, cursor=2, items=2))
    with pytest.raises(redis.ConnectionError):
        for i in range(3, 50):  # the error is raised at a later submit, or at close
            writer.submit(_job(i, cursor=i, items=i))
            time.sleep(0.01)
        writer.close()
    assert started.is_set()
    assert checkpoint.load()[0].cursor == 1  # nothing after the failed batch was committed


def test_without_a_checkpoint_nothing_is_stored(raw: redis.Redis, redis_db: Any) -> None:
    """A dry run: the writes count, nothing is committed."""
    before = raw.dbsize()
    writer = BatchWriter(lambda b: WriteOutcome(created=len(b)), None, threaded=False)
    writer.submit(_job([1, 2], cursor=1, items=2))
    writer.close()
    assert writer.totals.created == 2 and raw.dbsize() == before
