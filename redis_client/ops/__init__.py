"""The ``RedisDB`` methods as operations, written once for both APIs (see ``core.protocol``).

Each module is one topic: ``values`` (JSON values, sets, sorted sets, key patterns), ``posts``
(the post history in both layouts), ``accounts`` (accounts, action times, links, prompt map),
``delay`` (``ensure_delay_between_posts``). Every operation takes the facade as ``ctx`` first.
"""
