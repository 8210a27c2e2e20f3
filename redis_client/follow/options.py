"""``FollowOptions``: how often the follower reconciles, its lease, its batch sizes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FollowOptions:
    """Tuning of a :class:`~redis_client.follow.Follower`; the defaults suit a deployment."""

    #: Seconds between two fingerprint passes while keyspace notifications arrive (they heal a
    #: lost notification): every ``posted_tweets`` key's fingerprint, every account.
    interval: float = 60.0
    #: Seconds between two passes when notifications cannot be used (CONFIG refused, ACL).
    fallback_interval: float = 5.0
    #: Seconds between two full passes (every member compared with the records); None: never.
    full_interval: float | None = 86_400.0
    #: Hold a lease (redis-py ``Lock``) so that one follower follows and the others stand by.
    lease: bool = True
    #: Seconds the lease lives without renewal: a follower that died is replaced after this.
    lease_timeout: float = 10.0
    #: Seconds between two log lines with lag and counts.
    log_interval: float = 60.0
    #: Turn keyspace notifications on with CONFIG SET when they are off (where allowed).
    configure_notifications: bool = True
    #: Seconds to wait for the probe's notification before deciding they do not arrive.
    probe_timeout: float = 2.0
    #: Seconds to let notifications gather before a batch of fewer than ``batch_keys / 10`` keys
    #: (fewer, larger batches under a stream of writes; adds at most this to the lag).
    coalesce: float = 0.005
    #: Most ``posted_tweets`` keys per batch (appends read as a window of new members).
    batch_keys: int = 500
    #: Most keys per batch that must be compared member by member with their records.
    deep_batch_keys: int = 20
    #: Most members an append window may hold (more: the key is compared member by member).
    window_max: int = 5_000
    #: Sorted sets up to this size are read in one atomic call; larger ones with ZSCAN.
    atomic_read_max: int = 10_000
    #: Posts per record-writing script call.
    write_chunk: int = 500
    #: COUNT hint of the SCAN / ZSCAN calls.
    scan_count: int = 1_000

    def __post_init__(self) -> None:
        for name in ("interval", "fallback_interval", "lease_timeout", "log_interval", "probe_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.coalesce < 0:
            raise ValueError("coalesce must not be negative")
        if self.full_interval is not None and self.full_interval <= 0:
            raise ValueError("full_interval must be positive or None")
        for name in ("batch_keys", "deep_batch_keys", "window_max", "atomic_read_max", "write_chunk",
                     "scan_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
