"""The package's errors (public import path); they are defined in ``redis_client.core.errors``."""

from .core.errors import *  # noqa: F403
from .core.errors import __all__  # noqa: F401
