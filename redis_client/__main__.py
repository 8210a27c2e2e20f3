"""``python -m redis_client``."""

from .cli import main

raise SystemExit(main())
