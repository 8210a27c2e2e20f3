"""``TwitterAccount``: an account's non-secret metadata and last action times. Never tokens."""

from __future__ import annotations

from pydantic import ConfigDict
from redis_om import Field

from redis_client.core import indexes
from redis_client.core.keys import ACCOUNT_PREFIX

from .base import TAG_SEPARATOR, RecordModel
from .post import OptionalTweetId

#: Fields of ``twitter_data:{username}`` that are never copied into a record.
SECRET_FIELDS: frozenset[str] = frozenset(
    {"access_token", "refresh_token", "auth_token", "csrf_token", "guest_id"}
)


class TwitterAccount(RecordModel, index=True):  # type: ignore[call-arg]
    """Keyed by username. Action times are seconds since epoch, ``None`` when never recorded."""

    model_config = ConfigDict(extra="ignore")

    username: str = Field(
        primary_key=True, min_length=1, case_sensitive=True, separator=TAG_SEPARATOR
    )
    name: str | None = Field(default=None, index=True, separator=TAG_SEPARATOR)
    twitter_id: OptionalTweetId = Field(
        default=None, index=True, case_sensitive=True, separator=TAG_SEPARATOR
    )
    expires_at: float | None = Field(default=None, index=True, sortable=True)
    last_create_post_time: float | None = Field(default=None, index=True, sortable=True)
    last_gorilla_marketing_time: float | None = Field(default=None, index=True, sortable=True)
    last_likes_time: float | None = Field(default=None, index=True, sortable=True)
    last_comment_agix_time: float | None = Field(default=None, index=True, sortable=True)
    last_answer_my_comment_time: float | None = Field(default=None, index=True, sortable=True)
    last_answer_comment_time: float | None = Field(default=None, index=True, sortable=True)
    #: Action types beyond the six known ones, as recorded through ``RedisDB``.
    other_action_times: dict[str, float] = Field(default_factory=dict)

    class Meta:
        model_key_prefix = ACCOUNT_PREFIX

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        # Keep repr short and obviously token-free.
        return [(k, v) for k, v in super().__repr_args__() if k not in SECRET_FIELDS]


indexes.register(TwitterAccount.index_spec())
