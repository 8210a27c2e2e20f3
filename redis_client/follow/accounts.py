"""Accounts -> ``TwitterAccount`` records: ``twitter_data:{username}`` and the action-time keys.

A changed account is read whole (``redis_client.records.accounts.read_accounts``: its
``twitter_data`` hash or older JSON string, and its known action times) and upserted with
``UPSERT_ACCOUNT``, the migration's own rule: a missing record is created, metadata refreshed
when it differs, action times only moved forward; a record that matches is not written. Tokens
are never copied (``translate.account_record`` drops them). An account whose ``twitter_data``
key is gone loses its record (``removals.drop_accounts``: on one server atomically with a last
check of the key; on a cluster the record first, then the key checked again).
A deleted action-time key changes nothing: times never move back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

from ..core import keys
from ..core.connector import Connector
from ..core.drivers import SyncDriver
from ..core.errors import InvalidUsernameError
from ..core.protocol import Call, Pipeline
from ..core.scan import pages
from ..records.accounts import CREATED, UPDATED, read_accounts, upsert
from . import removals
from .report import Reporter
from .stats import Counts

log = logging.getLogger("redis_client.follow")

#: Accounts read and upserted per round trip.
CHUNK = 500


class AccountSync:
    def __init__(self, connector: Connector, reporter: Reporter) -> None:
        self.driver = SyncDriver(connector)
        self.client = connector.client()
        self.reporter = reporter

    def reconcile(self, usernames: Iterable[str]) -> Counts:
        """Bring these accounts' records in step with their legacy keys."""
        counts = Counts()
        names = []
        for username in usernames:
            try:
                names.append(keys.check_username(username))
            except InvalidUsernameError:
                continue
        for start in range(0, len(names), CHUNK):
            self._chunk(names[start : start + CHUNK], counts)
        return counts

    def _chunk(self, usernames: Sequence[str], counts: Counts, again: bool = True) -> None:
        data_keys = [keys.twitter_data(u).encode("utf-8", "surrogateescape") for u in usernames]
        missing: list[bytes] = []
        # The reporter gets the key and the reason, never a value: twitter_data holds tokens.
        accounts = self.driver.run(read_accounts(data_keys, self.reporter.key, missing))
        if missing:
            gone = set(missing)
            names = [u for u, k in zip(usernames, data_keys, strict=True) if k in gone]
            back = []
            for username, dropped in zip(names, self.driver.run(removals.drop_accounts(names)), strict=True):
                if dropped.error is not None:
                    log.warning("cannot remove an account record: %s", dropped.error)
                    counts.failed += 1
                counts.accounts_removed += dropped.removed
                if dropped.back:
                    back.append(username)
            if back and again:  # on a cluster: written again while its record was dropped
                self._chunk(back, counts, again=False)
        if not accounts:
            return
        for account, done in zip(accounts, self.driver.run(upsert(accounts)), strict=True):
            if done.error is not None:
                counts.failed += 1
                self.reporter.key(account.key, done.error)
            elif done.code == CREATED:
                counts.accounts_created += 1
            elif done.code == UPDATED:
                counts.accounts_updated += 1

    def pass_pages(self, scan_count: int) -> Iterator[list[str]]:
        """Page by page, every account with a ``twitter_data`` key, then the account records
        whose ``twitter_data`` key is gone (``reconcile`` removes them)."""
        for _, page in pages(self.client, keys.prefix_pattern(keys.TWITTER_DATA), scan_count):
            names = []
            for key in page:
                name = keys.username_of(key, keys.TWITTER_DATA)
                if name is None:
                    self.reporter.key(key, "key name does not hold a usable UTF-8 username")
                else:
                    names.append(name)
            yield names
        record_prefix = f"{keys.MODEL_NAMESPACE}:{keys.ACCOUNT_PREFIX}"
        for _, page in pages(self.client, keys.model_pattern(keys.ACCOUNT_PREFIX), scan_count):
            names = [n for n in (keys.username_of(k, record_prefix) for k in page) if n is not None]
            exists = self.driver.perform(Pipeline([Call("exists", (keys.twitter_data(n),)) for n in names]))
            yield [n for n, found in zip(names, exists, strict=True) if found == 0]
