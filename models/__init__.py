"""redis-om models over the legacy layout: ``Post`` and ``TwitterAccount``.

Records live under ``redis_client_om:{post|account}:{id}``; see docs/key-layout.md. The
models use the server of ``binding.connector()``: the shared one of ``redis_client.main.db`` and
``redis_client.aio.db`` unless ``bind()`` points them elsewhere.
"""

from .account import TwitterAccount
from .binding import bind
from .post import Post
from .query import escape_query_value

__all__ = ["Post", "TwitterAccount", "bind", "escape_query_value"]
