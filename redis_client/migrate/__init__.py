"""The migration framework behind ``migrations/`` and ``redis-client migrate``.

Modules (import what you need; this package imports nothing):

- ``discovery``: the migration files of a package, ordered by their dependencies;
- ``context``: the explicit ``Context`` a migration's ``up``/``down``/``dry_run`` receive,
  and the ``Partition`` of a run split over workers;
- ``engine`` (``KeyMigration``), ``writer``, ``checkpoint``, ``report``, ``progress``: what a
  step over legacy keys calls: streaming SCAN (``redis_client.core.scan``), ordered background
  writes, checkpoints in Redis, counters and bad entries, a progress bar or log lines;
- ``state``: applied migrations, checkpoints and reports in Redis;
- ``commands``: run, run_on_ray, resync, run_step, status, report, verify, rollback,
  inventory, as plain functions returning results; ``verify``, ``inventory``,
  ``distributed`` (Ray) hold the work of three of them;
- ``cli``: ``redis-client migrate ...``, arguments in, exit codes out;
- ``om``: the migrations as redis-om ``BaseMigration`` classes (``migrations.MIGRATIONS``),
  for ``DataMigrator`` and ``om migrate-data``; the only module that uses asyncio.
"""
