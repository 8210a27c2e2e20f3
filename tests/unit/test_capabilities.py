"""What the server can do, from one pipelined probe (no server)."""

from __future__ import annotations

import pytest
import redis
from scripted import ScriptedDriver, run

from redis_client.core import slots
from redis_client.core.capabilities import Capabilities, probe
from redis_client.core.errors import ModuleMissingError
from redis_client.core.protocol import Call, Pipeline


def test_the_probe_is_one_round_trip_of_two_harmless_reads() -> None:
    caps, driver = run(probe(0), [[None], []])
    assert caps == Capabilities(json=True, search=True, database=0) and caps.models
    assert driver.sent() == [
        Pipeline([
            Call("execute_command", ("JSON.TYPE", "redis_client_om:probe")),
            Call("execute_command", ("FT._LIST",)),
        ])
    ]


def test_on_a_cluster_every_primary_is_asked_about_a_key_it_serves() -> None:
    shards = {"10.0.0.1:7000": (0, 1, 2), "10.0.0.2:7000": (8000, 8001)}
    driver = ScriptedDriver([[None, [], None, []]], shards=shards)
    caps = driver.run(probe(0))
    assert caps.models
    (pipeline,) = driver.sent()
    assert isinstance(pipeline, Pipeline)
    nodes = [c.node for c in pipeline.calls if isinstance(c, Call)]
    assert nodes == ["10.0.0.1:7000", "10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.2:7000"]
    probe_keys = [c.args[1] for c in pipeline.calls if isinstance(c, Call) and c.args[0] == "JSON.TYPE"]
    assert [slots.slot_of(k) for k in probe_keys] == [0, 8000]


def test_one_primary_without_the_module_means_it_is_missing() -> None:
    shards = {"a:1": (0,), "b:1": (9,)}
    unknown = redis.ResponseError("unknown command 'FT._LIST'")
    driver = ScriptedDriver([[None, [], None, unknown]], shards=shards)
    assert not driver.run(probe(0)).search


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


def test_a_search_coordinator_turns_the_records_off_with_its_reason() -> None:
    caps = Capabilities(json=True, search=True, database=0, coordinator=True)
    assert not caps.models and "coordinator" in caps.problem()
    with pytest.raises(ModuleMissingError, match="once per primary"):
        caps.require_models("redis://node:7000")
