"""The lower layer, shared by the sync and asyncio APIs, the models and the bulk jobs.

Key layout (``keys``), settings, pools and retries, the startup wait, what the server can do,
the Lua scripts, value encoding, index management, and the request protocol with its two
drivers. Nothing here imports ``models`` or the rest of ``redis_client``.
"""
