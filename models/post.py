"""``Post``: one tweet, keyed by its id, mirrored from ``posted_tweets:{username}`` members."""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, ConfigDict
from redis_om import Field

from redis_client.core import indexes
from redis_client.core.keys import POST_PREFIX
from redis_client.core.settings import RedisSettings

from .base import TAG_SEPARATOR, RecordModel


def _text_id(value: Any) -> Any:
    """Tweet ids: str, or a JSON number as older writers stored them (not bool)."""
    if isinstance(value, bool):
        raise ValueError("must be a string, not a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _optional_text_id(value: Any) -> Any:
    return None if value is None else _text_id(value)


def _whole_seconds(value: Any) -> Any:
    """Seconds since epoch; fractional legacy values keep their whole seconds."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return math.floor(value)
    return value


def _non_empty(value: Any) -> Any:
    if isinstance(value, str) and not value:
        raise ValueError("must not be empty")
    return value


TweetId = Annotated[str, BeforeValidator(_non_empty), BeforeValidator(_text_id)]
OptionalTweetId = Annotated[str | None, BeforeValidator(_optional_text_id)]
Seconds = Annotated[int, BeforeValidator(_whole_seconds)]


class Post(RecordModel, index=True):  # type: ignore[call-arg]
    """A tweet. ``accounts`` lists the accounts whose history (``add_user_post``) holds it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    id: TweetId = Field(primary_key=True, case_sensitive=True, separator=TAG_SEPARATOR)
    text: str = Field(full_text_search=True, separator=TAG_SEPARATOR)
    sender_username: str = Field(
        min_length=1, index=True, case_sensitive=True, separator=TAG_SEPARATOR
    )
    timestamp: Seconds = Field(ge=0, index=True, sortable=True)
    quoted_tweet_id: OptionalTweetId = Field(
        default=None, index=True, case_sensitive=True, separator=TAG_SEPARATOR
    )
    is_reply_to: OptionalTweetId = Field(
        default=None, index=True, case_sensitive=True, separator=TAG_SEPARATOR
    )
    is_news_summary_tweet: bool = Field(default=False, index=True)
    accounts: list[str] = Field(
        default_factory=list, index=True, case_sensitive=True, separator=TAG_SEPARATOR
    )

    #: Fields the index leaves out (a query on them would silently match nothing).
    NOT_INDEXED: ClassVar[frozenset[str]] = frozenset({"id"})

    class Meta:
        model_key_prefix = POST_PREFIX

    @classmethod
    def schema_args(cls, settings: RedisSettings | None = None) -> list[str]:
        """The index of the documented queries only (see docs/performance.md's memory figures).

        Equality on ``sender_username``, ``accounts``, ``quoted_tweet_id``, ``is_reply_to`` and
        ``is_news_summary_tweet``; ranges and sorting on ``timestamp``; the words (and phrases)
        of ``text`` unless ``full_text_search`` is off. Not indexed: ``id`` (``Post.get`` reads
        the key) and ``text`` as a tag. No highlighting, field bits or term frequencies:
        results are sorted by time, never by relevance.
        """
        tag = ["TAG", "SEPARATOR", TAG_SEPARATOR, "CASESENSITIVE"]
        args = ["ON", "JSON", "PREFIX", "1", cls.make_key(""), "NOHL", "NOFIELDS", "NOFREQS", "SCHEMA"]
        args += ["$.sender_username", "AS", "sender_username", *tag]
        args += ["$.timestamp", "AS", "timestamp", "NUMERIC", "SORTABLE"]
        args += ["$.accounts[*]", "AS", "accounts", *tag]
        args += ["$.quoted_tweet_id", "AS", "quoted_tweet_id", *tag]
        args += ["$.is_reply_to", "AS", "is_reply_to", *tag]
        args += ["$.is_news_summary_tweet", "AS", "is_news_summary_tweet", "TAG"]
        if settings is None or settings.full_text_search:
            args += ["$.text", "AS", "text_fts", "TEXT"]
        return args


indexes.register(Post.index_spec())
