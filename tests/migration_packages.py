"""Packages of migration files made for a test: the real migrations plus files of the test's own."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path

import pytest

from redis_client import migrations


def make_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, files: dict[str, str], real: bool = True
) -> str:
    """An importable package ``name`` holding ``files`` (file name -> source, dedented) and,
    with ``real``, the files of ``migrations``; returns its name."""
    package = tmp_path / name
    package.mkdir()
    init = f"__path__.append({migrations.__path__[0]!r})\n" if real else ""
    (package / "__init__.py").write_text(init)
    for file_name, source in files.items():
        (package / file_name).write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return name
