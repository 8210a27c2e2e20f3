"""What the server can do, from one pipelined probe (no server)."""

from __future__ import annotations

import pytest
import redis
from scripted import run

from redis_client.core.capabilities import Capabilities, probe
from redis_client.core.errors import ModuleMissingError
from redis_client.core.protocol import Call, Pipeline


def test_the_probe_is_one_round_trip_of_two_harmless_reads() -> None:
    caps, driver = run(probe(0), [[None], []])
    assert caps == Capabilities(json=True, search=True, database=0) and caps.models
    assert driver.requests == [
        Pipeline((
            Call("execute_command", ("JSON.TYPE", "redis_client_om:probe")),
            Call("execute_command", ("FT._LIST",)),
        ))
    ]


def test_an_unknown_command_means_the_module_is_missing() -> None:
    unknown = redis.ResponseError("unknown command 'FT._LIST'")
    caps, _ = run(probe(0), [[None], unknown])
    assert caps.json and not caps.search and not caps.models
    assert "search (RediSearch: FT.SEARCH)" in caps.problem()


def test_models_need_database_zero() -> None:
    caps, _ = run(probe(3), [[None], []])
    assert not caps.models and "database 3" in caps.problem()
    with pytest.raises(ModuleMissingError, match="database 3"):
        caps.require_models("redis://host:6379/3")
