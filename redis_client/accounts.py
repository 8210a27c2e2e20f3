"""Accounts: twitter_data, action times, partnerships, tweet links, and account removal."""

from __future__ import annotations

import json
import logging
import math
import time

import redis

from models.account import TwitterAccount

from . import keys
from .base import Connected
from .codec import decode_value, encode_value

log = logging.getLogger("redis_client")

TWEET_LINK = "https://twitter.com/i/web/status/{tweet_id}"


class AccountsMixin(Connected):
    """Account helpers; ``function_variables`` is the prompt map ``get_function_variables`` stores."""

    function_variables: dict[str, list[str]]


    def get_twitter_data_keys(self) -> list[str]:
        return [
            k.decode("utf-8")
            for k in self.r.scan_iter(match=keys.prefix_pattern(keys.TWITTER_DATA), count=1000)
        ]

    def get_active_twitter_accounts(self) -> list[str]:
        """Usernames with a ``twitter_data`` key (full names, ':' included)."""
        return [keys.username_from_key(k, keys.TWITTER_DATA) for k in self.get_twitter_data_keys()]

    def is_account_active(self, username: str) -> bool:
        return bool(self.r.exists(keys.twitter_data(username)))

    def get_account_last_action_time(self, username: str, action_type: str) -> float:
        """Seconds since epoch of the last such action; 0.0 when never recorded."""
        key = keys.action_time(username, action_type)
        return float(decode_value(key, self.r.get(key)) or 0)

    def update_account_last_action_time(
        self, username: str, action_type: str, timestamp: float
    ) -> None:
        """Record the time; also in the account's ``TwitterAccount`` record when it exists."""
        key = keys.action_time(username, action_type)
        if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
            raise TypeError(f"timestamp for {key!r} must be a number")
        if not math.isfinite(timestamp):
            raise ValueError(f"timestamp for {key!r} must be finite")
        if not self._models_enabled():
            self.r.set(key, json.dumps(timestamp))
            return
        field = action_type if action_type in TwitterAccount.model_fields else None
        patch = {field: timestamp} if field else {"other_action_times": {action_type: timestamp}}
        record = keys.model_key(keys.ACCOUNT_PREFIX, username)
        self._script("SET_ACTION_TIME")(
            keys=[key, record], args=[json.dumps(timestamp), json.dumps(patch)]
        )

    def add_send_partnership(self, username: str, partner_user_id: str) -> None:
        self.r.zadd(keys.send_partnership(username), {partner_user_id: int(time.time())})

    def get_send_partnership(self, username: str) -> list[str]:
        return [m.decode("utf-8") for m in self.r.zrange(keys.send_partnership(username), 0, -1)]

    def get_function_variables(self) -> dict[str, list[str]]:
        """The prompt-variable map; also stored under ``function_variables``."""
        mapping = {k: list(v) for k, v in self.function_variables.items()}
        self.r.set(keys.FUNCTION_VARIABLES, encode_value(keys.FUNCTION_VARIABLES, mapping))
        return mapping

    def save_tweet_link(self, function_name: str, tweet_id: str) -> None:
        """Append the tweet's link to ``created_tweet:{function_name}`` unless already there."""
        link = TWEET_LINK.format(tweet_id=tweet_id)
        self._script("PUSH_LINK_ONCE")(keys=[keys.created_tweet(function_name)], args=[link])

    def remove_account(self, username: str) -> int:
        """Delete the account's legacy keys and records; posts shared with others stay theirs.

        Returns the number of keys deleted.
        """
        action_types = set(keys.ACTION_TYPES)
        post_keys: list[str] = []
        record = keys.model_key(keys.ACCOUNT_PREFIX, username)
        if self._models_enabled():
            try:
                extra = self.r.json().get(record, "$.other_action_times")
            except redis.ResponseError:  # not a JSON record: deleted below like any account key
                extra = None
            if extra and isinstance(extra[0], dict):
                action_types |= {a for a in extra[0] if isinstance(a, str) and ":" not in a}
            post_keys = self._post_record_keys(username)
        legacy = keys.legacy_account_keys(username, tuple(sorted(action_types)))
        plain = [*legacy, record]
        deleted = self._script("REMOVE_ACCOUNT")(
            keys=[*plain, *post_keys], args=[json.dumps(username), len(plain)]
        )
        log.info("removed account (%d keys deleted)", deleted)
        return int(deleted)

    def _post_record_keys(self, username: str) -> list[str]:
        """Record keys of the account's posts: its sorted set's ids and the index's matches."""
        ids: set[str] = set()
        for raw in self.r.zrange(keys.posted_tweets(username), 0, -1):
            try:
                value = json.loads(raw)
                if isinstance(value, dict) and value.get("id") is not None:
                    ids.add(str(value["id"]))
            except ValueError:
                continue
        ids.update(self._indexed_post_ids(username))
        return [keys.model_key(keys.POST_PREFIX, i) for i in sorted(ids)]

    def _indexed_post_ids(self, username: str) -> set[str]:
        from models.post import Post

        try:
            return {p.id for p in Post.find(Post.accounts == username).all()}
        except ValueError:
            return set()  # no exact query for this name: the sorted set's ids are all there is
