"""Shared base of the models: the namespace, the server they use, safe queries, ``get``/``aget``."""

from __future__ import annotations

import abc
from typing import Any, TypeVar, cast

import redis
from pydantic import ValidationError, field_validator
from redis_om import Field, JsonModel, NotFoundError, RedisModel

from redis_client.core import indexes, keys
from redis_client.core.errors import CorruptRecordError
from redis_client.core.protocol import Call, Models, Op
from redis_client.core.settings import RedisSettings

from . import binding
from .query import SafeFindQuery

#: TAG separator: redis-om defaults to '|', which splits values holding it. Control char 0x01 is
#: not whitespace for str.split(), so the schema survives being split into FT.CREATE arguments.
TAG_SEPARATOR = "\x01"

M = TypeVar("M", bound="RecordModel")


def json_documents(res: Any) -> list[Any] | None:
    """The JSON documents of an FT.SEARCH reply of whole documents, RESP3 (``{"results": [{
    "extra_attributes": {"$": json}}, ...]}``) or RESP2 (``[total, key, ["$", json], ...]``);
    None for any other shape (redis-om's parser reads those)."""
    docs = []
    if isinstance(res, dict):
        for item in _get(res, "results") or ():
            attributes = _get(item, "extra_attributes") if isinstance(item, dict) else None
            doc = _get(attributes, "$") if isinstance(attributes, dict) else None
            if doc is None:
                return None
            docs.append(doc)
        return docs
    if not isinstance(res, list):
        return None
    for payload in res[2::2]:
        if not isinstance(payload, list) or len(payload) != 2 or payload[0] not in ("$", b"$"):
            return None
        docs.append(payload[1])
    return docs


def _get(mapping: dict[Any, Any], name: str) -> Any:
    """A RESP3 map's entry, its keys text (``decode_responses``) or bytes."""
    found = mapping.get(name)
    return mapping.get(name.encode()) if found is None else found


def _require_models() -> Op[bool]:
    return bool((yield Models(require=True)))


class RecordModel(JsonModel, abc.ABC):  # type: ignore[misc]
    """A JSON record under ``redis_client_om:{model_prefix}:{pk}``, indexed for ``find()``."""

    # The natural key (tweet id, username) is the primary key: no random ULID ``pk`` is made or stored.
    pk: str | None = Field(default=None, exclude=True)

    class Meta:
        global_key_prefix = keys.MODEL_NAMESPACE

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
    def schema_args(cls, settings: RedisSettings | None = None) -> list[str]:
        """FT.CREATE arguments after the index name: redis-om's schema of the model's fields.

        Split on ' ' only: the separator is a control char.
        """
        return [part for part in cls.redisearch_schema().split(" ") if part]

    @classmethod
    def index_spec(cls) -> indexes.IndexSpec:
        return indexes.IndexSpec(cls._meta.index_name, cls.__name__, cls.schema_args)

    @classmethod
    def db(cls) -> redis.Redis[str]:
        """The sync text client of the bound server, for redis-om's own calls (``save()``...);
        ``ModuleMissingError`` on a server without the JSON and search modules."""
        binding.run(_require_models())
        return binding.connector().client(text=True)

    @classmethod
    def from_redis(cls, res: Any, knn: Any = None) -> list[Any]:
        """Search results as models, each validated straight from its JSON.

        redis-om's version walks every field of every document twice (datetime and bytes
        conversions: our models have neither) and builds each model through ``__init__``.
        """
        docs = json_documents(res) if knn is None else None
        if docs is None:
            return super().from_redis(res, knn)  # type: ignore[no-any-return]
        validate = cls.__pydantic_validator__.validate_json
        return [validate(doc) for doc in docs]

    @classmethod
    def find(cls, *expressions: Any, knn: Any = None) -> SafeFindQuery:
        return SafeFindQuery(expressions=expressions, knn=knn, model=cls)

    @classmethod
    def get_op(cls: type[M], pk: Any) -> Op[M]:
        """Read one record by primary key; ``NotFoundError`` when there is none."""
        yield Models(require=True)
        raw = yield Call("execute_command", ("JSON.GET", cls.make_primary_key(pk)), text=True)
        if raw is None:
            raise NotFoundError(f"no {cls.__name__} record for that key")
        try:
            if isinstance(raw, (str, bytes)):
                return cls.__pydantic_validator__.validate_json(raw)  # type: ignore[no-any-return]
            return cast(M, cls.model_validate(raw))
        except ValidationError:
            raise CorruptRecordError(
                f"the {cls.__name__} record at {cls.make_primary_key(pk)!r} is not a valid record"
            ) from None

    @classmethod
    def get(cls: type[M], pk: Any) -> M:
        return binding.run(cls.get_op(pk))

    @classmethod
    async def aget(cls: type[M], pk: Any) -> M:
        """``get`` for asyncio code."""
        return await binding.arun(cls.get_op(pk))
