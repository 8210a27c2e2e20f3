"""The server-side Lua scripts, one ``.lua`` file each beside this module, as :class:`LuaScript` objects.

A request names a script by its object (``protocol.Script(scripts.ADD_POSTS, keys, args)``);
the drivers run it by EVALSHA and send its text when the server does not know it (NOSCRIPT).
Each file opens with what its script takes and returns. Every script is one atomic round trip,
but a script is not rolled back when a command in it fails: those that write two keys
(``ADD_POSTS``, ``SAVE_LINK``) check the key types first and fail before any write. MULTI/EXEC
would not do: a command failing inside EXEC (e.g. WRONGTYPE) does not undo the others, and the
account list of a post needs a conditional append.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources


@dataclass(frozen=True, eq=False, slots=True)
class LuaScript:
    """One script: its name, its text, the SHA-1 the server knows it by (EVALSHA), and whether it
    may write (a script whose shebang says ``flags=no-writes`` may not, and runs on replicas)."""

    name: str
    text: str = field(repr=False)
    sha: str = field(init=False, repr=False)
    writes: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.text.encode()).hexdigest())
        object.__setattr__(self, "writes", "no-writes" not in self.text.partition("\n")[0])


def load(name: str) -> LuaScript:
    """The script of ``{name}.lua`` in this package, named ``NAME``."""
    text = resources.files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8")
    return LuaScript(name.upper(), text)


# The dual write and the classic methods.
ADD_POSTS = load("add_posts")
ADD_RECORDS = load("add_records")
SET_ACTION_TIME = load("set_action_time")
REMOVE_ACCOUNT = load("remove_account")
SAVE_LINK = load("save_link")
MERGE_RECORD = load("merge_record")
# Legacy account data into records (the migration and the follower).
UPSERT_ACCOUNT = load("upsert_account")
# The follower (``redis_client.follow``): reads, record-only removals, its own state. None of
# them writes a legacy key: posted_tweets and twitter_data keys are only read.
FOLLOW_READ = load("follow_read")
FOLLOW_UNLINK_POSTS = load("follow_unlink_posts")
FOLLOW_DROP_ACCOUNT = load("follow_drop_account")
FOLLOW_SET_FINGERPRINT = load("follow_set_fingerprint")
# Pacing (``ops.pacing``): an account's posting slot, on the server's clock. posted_tweets keys
# are only read.
POSTING_RESERVE = load("posting_reserve")
POSTING_RELEASE = load("posting_release")
# The follower on a cluster: the record-only steps of FOLLOW_UNLINK_POSTS and FOLLOW_DROP_ACCOUNT
# (a record and its legacy key lie in different slots there).
FOLLOW_UNLINK_RECORDS = load("follow_unlink_records")
FOLLOW_DROP_RECORD = load("follow_drop_record")

#: Every script of the package.
ALL: tuple[LuaScript, ...] = (
    ADD_POSTS,
    ADD_RECORDS,
    SET_ACTION_TIME,
    REMOVE_ACCOUNT,
    SAVE_LINK,
    MERGE_RECORD,
    UPSERT_ACCOUNT,
    FOLLOW_READ,
    FOLLOW_UNLINK_POSTS,
    FOLLOW_DROP_ACCOUNT,
    FOLLOW_SET_FINGERPRINT,
    POSTING_RESERVE,
    POSTING_RELEASE,
    FOLLOW_UNLINK_RECORDS,
    FOLLOW_DROP_RECORD,
)
