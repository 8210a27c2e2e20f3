"""redis-om data migrations of the legacy keys into model records.

Run them with ``redis-client migrate run`` (or ``om migrate-data run --module migrations`` with
``REDIS_OM_URL`` pointing at the same server as ``REDIS_URL``). Each file has the same shape: a
``BaseMigration`` subclass (through ``redis_client.migrate.steps.Migration``) with
``migration_id``, ``description``, ``dependencies``, ``up``, ``down``, ``can_run``; the work is
done by ``redis_client.migrate``. Keep ``MIGRATIONS`` in dependency order.
"""

from .m0001_indexes import IndexesMigration
from .m0002_posts import PostsMigration
from .m0003_accounts import AccountsMigration

#: What redis-om's DataMigrator loads (``migration_module="migrations"``), in dependency order.
MIGRATIONS = [IndexesMigration, PostsMigration, AccountsMigration]

__all__ = ["MIGRATIONS", "AccountsMigration", "IndexesMigration", "PostsMigration"]
