"""A follower as a long-lived Ray actor (the optional ``ray`` extra)::

    import ray
    from redis_client.core.settings import load_settings
    from redis_client.follow.ray_actor import start_follower_actor

    ray.init()
    actor = start_follower_actor(load_settings(), name="redis-client-follow", detached=True)
    ray.get(actor.wait_ready.remote(60))     # True once the records are in step
    ray.get(actor.stats.remote())            # counters, lag, mode, whether it leads
    ray.get(actor.stop.remote())             # finishes its batch, releases the lease

Client objects do not pickle: the actor gets the settings (or reads its own environment with
``settings=None``) and opens its connections where it runs. Several actors (or one per Serve
replica) share the lease: one follows, the others stand by and take over when it dies.
Importing this module does not import Ray.
"""

from __future__ import annotations

import threading
from typing import Any

from ..core.settings import RedisSettings
from .follower import Follower
from .options import FollowOptions


class FollowerActor:
    """The actor's class: runs ``Follower.run`` in a thread of the actor's process."""

    def __init__(self, settings: RedisSettings | None = None, options: FollowOptions | None = None) -> None:
        self._follower = Follower(settings, options)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="redis-client-follow", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._follower.run(self._stop)
        except BaseException as exc:  # noqa: BLE001 - kept for the callers of wait_ready/stats
            self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """True once the records are in step (False: not yet, or standing by)."""
        waited = 0.0
        while waited < timeout and self._thread.is_alive():
            if self._follower.ready.wait(min(0.5, timeout - waited)):
                return True
            waited += 0.5
        self._raise()
        return self._follower.ready.is_set()

    def stats(self) -> dict[str, Any]:
        self._raise()
        out = self._follower.stats.snapshot()
        out["mode"] = self._follower.mode
        out["leading"] = self._follower.leading.is_set()
        return out

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop following (after the current batch); True when it stopped in time."""
        self._stop.set()
        self._follower.pending.wake()
        self._thread.join(timeout)
        return not self._thread.is_alive()


def start_follower_actor(
    settings: RedisSettings | None = None,
    options: FollowOptions | None = None,
    *,
    name: str | None = None,
    detached: bool = False,
    **actor_options: Any,
) -> Any:
    """Start (or, with a ``name`` already running, get) a follower actor; returns its handle."""
    import ray

    opts: dict[str, Any] = dict(actor_options)
    if name is not None:
        opts.update(name=name, get_if_exists=True)
    if detached:
        opts["lifetime"] = "detached"
    remote_class: Any = ray.remote(FollowerActor)
    return remote_class.options(**opts).remote(settings, options)
