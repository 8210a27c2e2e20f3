"""The ``RedisDB`` methods as operations, written once for both APIs (see ``core.protocol``).

Each module is one topic: ``values`` (JSON values, sets, sorted sets, key patterns), ``posts``
(the post history in both layouts), ``accounts`` (accounts, action times, links, prompt map),
``pacing`` (an account's posting slot: ``posting_slot``, ``ensure_delay_between_posts``). An
operation takes only what it works on: what the facade holds (the prompt map, a setting) is
passed as an argument.
"""
