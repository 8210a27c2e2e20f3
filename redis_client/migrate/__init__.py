"""Our migration engine: checkpoints, reports, inventory and verification for ``migrations/``."""
