"""Shared base of the models: namespace, lazy connection, safe queries."""

from __future__ import annotations

import abc
from typing import Any

import redis
from pydantic import field_validator
from redis_om import Field, JsonModel, RedisModel
from redis_om.search_reply import search_documents

from redis_client.keys import MODEL_NAMESPACE

from . import binding
from .query import SafeFindQuery

#: TAG separator: redis-om defaults to '|', which splits values holding it. Control char 0x01 is
#: not whitespace for str.split(), so the schema survives being split into FT.CREATE arguments.
TAG_SEPARATOR = "\x01"


class RecordModel(JsonModel, abc.ABC):
    """A JSON record under ``redis_client_om:{model_prefix}:{pk}``, indexed for ``find()``."""

    # The natural key (tweet id, username) is the primary key: no random ULID ``pk`` is made or stored.
    pk: str | None = Field(default=None, exclude=True)

    class Meta:
        global_key_prefix = MODEL_NAMESPACE

    def __init__(self, **data: Any) -> None:
        # JsonModel.__init__ would ask the server for the JSON module on every construction.
        RedisModel.__init__(self, **data)

    # Validation (model_validate*, TypeAdapter, so parse_members and to_post) does not call the
    # __init__ above: it only re-checks the class's primary key, but a "custom" __init__ makes
    # pydantic-core call it per instance and lose its fast path. Post(...) still runs it.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @field_validator("pk")
    @classmethod
    def validate_pk(cls, v: Any) -> Any:
        return v

    @classmethod
    def redisearch_schema(cls) -> str:
        # redis-om ignores case_sensitive on the primary key: exact keys must match exactly.
        schema: str = super().redisearch_schema()
        primary = getattr(cls._meta, "primary_key", None)
        if primary is None:  # still being defined
            return schema
        pk = primary.name
        plain = f"$.{pk} AS {pk} TAG SEPARATOR {TAG_SEPARATOR}"
        return schema.replace(plain, plain + " CASESENSITIVE", 1)

    @classmethod
    def db(cls) -> redis.Redis:
        return binding.client()

    @classmethod
    def from_redis(cls, res: Any, knn: Any = None) -> list[Any]:
        """Search results as models, each validated straight from its JSON.

        redis-om's version walks every field of every document twice (datetime and bytes
        conversions: our models have neither) and builds each model through ``__init__``.
        """
        docs = search_documents(res)
        if knn is not None or not all(d.get("$") for d in docs):
            return super().from_redis(res, knn)  # type: ignore[no-any-return]
        validate = cls.__pydantic_validator__.validate_json
        return [validate(doc["$"]) for doc in docs]

    @classmethod
    def find(cls, *expressions: Any, knn: Any = None) -> SafeFindQuery:
        return SafeFindQuery(expressions=expressions, knn=knn, model=cls)
