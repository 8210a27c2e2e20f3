"""Model records that follow every writer of the legacy keys, live (``redis-client sync``).

Services that write the legacy keys directly (the auth service's ``twitter_data:*``, older
agents' ``ZADD posted_tweets:*`` and action times) would otherwise leave the ``Post`` and
``TwitterAccount`` records behind. A follower keeps them in step, from keyspace notifications,
with periodic passes that heal what pub/sub may lose::

    import threading
    from redis_client.core.settings import load_settings
    from redis_client.follow import Follower

    follower = Follower(load_settings())
    stop = threading.Event()
    threading.Thread(target=follower.run, args=(stop,), daemon=True).start()
    ...
    stop.set()                     # finishes its batch, releases the lease

``follow(settings, stop)`` is the same in one call; ``Follower.reconcile()`` is one pass
(``redis-client sync --once``); ``redis_client.follow.ray_actor`` runs one as a Ray actor.
Several followers may run (replicas): one holds the lease and follows, the others stand by.
It never writes a legacy key.
"""

from ..records.bad import BadEntry
from .follower import Follower, PassResult, follow
from .options import FollowOptions
from .report import iter_report
from .stats import Counts, FollowStats

__all__ = [
    "BadEntry",
    "Counts",
    "FollowOptions",
    "FollowStats",
    "Follower",
    "PassResult",
    "follow",
    "iter_report",
]
