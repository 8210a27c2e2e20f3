"""The migration engine behind ``migrations/`` and ``redis-client migrate``.

Modules (import what you need; this package imports nothing heavy):

- ``steps``: glue called by the migration classes (``up``/``down``/``can_run``), and their base
  ``steps.Migration`` (redis-om's ``BaseMigration``);
- ``runner``: drives redis-om's ``DataMigrator`` (run, dry run, status, rollback);
- ``engine``, ``writer``, ``checkpoint``: streaming SCAN / key partitions, ordered background
  writes, checkpoints in Redis;
- ``posts`` (``migrate_posts``, ``migrate_post_keys`` for a key partition,
  ``run_posts_migration`` for benchmarks), ``members`` (fast member parsing), ``accounts``,
  ``indexes``: the three steps;
- ``report``, ``progress``, ``options``: counters and bad entries, tqdm / log lines, run options;
- ``verify``, ``inventory``, ``cleanup``: ``migrate verify``, ``migrate inventory``, rollback deletes;
- ``cli``: the ``migrate`` sub-commands.
"""
