"""The Lua scripts as package files and typed objects (no server: ``test_*`` of each caller runs them)."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from redis_client.core import scripts
from redis_client.core.scripts import LuaScript


def test_every_lua_file_is_a_script_of_the_package() -> None:
    files = sorted(p.name for p in resources.files(scripts.__name__).iterdir() if p.name.endswith(".lua"))
    assert files == sorted(f"{s.name.lower()}.lua" for s in scripts.ALL)
    assert len({s.name for s in scripts.ALL}) == len(scripts.ALL)
    for script in scripts.ALL:
        assert getattr(scripts, script.name) is script


@pytest.mark.parametrize("script", scripts.ALL, ids=lambda s: s.name)
def test_a_script_opens_with_what_it_takes_and_returns(script: LuaScript) -> None:
    lines = script.text.splitlines()
    # Redis 7's shebang: flags only where needed (a read-only script runs on replicas; one that
    # reaches keys of several slots of its node, on a cluster)
    flags = {"FOLLOW_READ": " flags=no-writes", "ADD_RECORDS": " flags=allow-cross-slot-keys"}
    assert lines[0] == "#!lua" + flags.get(script.name, "")
    assert lines[1].startswith(f"-- {script.name}: ")
    comment = [line for line in lines[1:] if line.startswith("--")]
    assert any("KEYS" in line for line in comment) and any("returns" in line.lower() for line in comment)


@pytest.mark.parametrize("script", scripts.ALL, ids=lambda s: s.name)
def test_the_sha_is_the_one_the_server_knows_the_script_by(script: LuaScript) -> None:
    assert script.sha == hashlib.sha1(script.text.encode()).hexdigest()
    assert repr(script) == f"LuaScript(name={script.name!r})"  # never the whole text in a log line


def test_a_script_object_is_its_own_identity() -> None:
    twin = scripts.load("save_link")
    assert twin.sha == scripts.SAVE_LINK.sha
    assert twin != scripts.SAVE_LINK and {scripts.SAVE_LINK: 1}.get(twin) is None
    with pytest.raises(AttributeError):
        scripts.SAVE_LINK.text = "return 0"  # type: ignore[misc]
