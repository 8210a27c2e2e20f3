"""The fenced Python examples of README.md and docs/*.md, and a runner for one page's examples.

``python tests/doc_examples.py PAGE`` runs the page's examples in order, in one namespace, as a
reader pastes them one after the other, from the current directory (an application's folder:
it goes first on ``sys.path``). The line before an example may say how to run it:

- ``<!-- example: pytest -->``: a test file, run by pytest (with this package's plugin);
- ``<!-- example: skip: why -->``: not run here, for the reason given (it is required).

A failure's traceback names the page and the line of the Markdown file.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*example:\s*(?P<kind>[\w-]+)\s*(?::\s*(?P<reason>.*?))?\s*-->\s*$")
KINDS = ("run", "pytest", "skip")


@dataclass(frozen=True)
class Example:
    page: Path
    #: Line number (1-based) of the example's first line of code.
    line: int
    code: str
    kind: str = "run"
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """README.md, then every page of docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def examples(page: Path) -> list[Example]:
    """The page's ```python blocks, with the marker on the line before each (if any)."""
    lines = page.read_text().splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None or not fence["lang"]:
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if fence["lang"] == "python":
            marker = MARKER.match(lines[i - 1]) if i else None
            kind = marker["kind"] if marker else "run"
            reason = (marker["reason"] or "") if marker else ""
            code = textwrap.dedent("\n".join(lines[start:end])) + "\n"
            found.append(Example(page, start + 1, code, kind, reason))
        i = end + 1
    return found


def run_example(example: Example, namespace: dict[str, object]) -> None:
    # Leading newlines: the traceback's line numbers are the Markdown file's.
    source = "\n" * (example.line - 1) + example.code
    code = compile(source, str(example.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    if code.co_flags & inspect.CO_COROUTINE:  # top-level await, as in `python -m asyncio`
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


def run_as_test_file(example: Example) -> None:
    with tempfile.TemporaryDirectory(prefix="doc-example-") as folder:
        test_file = Path(folder) / f"test_example_line_{example.line}.py"
        test_file.write_text(example.code)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
            cwd=folder, capture_output=True, text=True, timeout=600,
        )
    print(proc.stdout[-3000:])
    if proc.returncode != 0 or " passed" not in proc.stdout or "skipped" in proc.stdout:
        raise AssertionError(f"{example}: pytest exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")


def run_page(page: Path) -> None:
    sys.path.insert(0, os.getcwd())
    namespace: dict[str, object] = {"__name__": "__main__"}
    for example in examples(page):
        print(f"--- {example} ({example.kind})", flush=True)
        if example.kind == "skip":
            print(f"skipped: {example.reason}")
        elif example.kind == "pytest":
            run_as_test_file(example)
        else:
            run_example(example, namespace)


if __name__ == "__main__":
    run_page(Path(sys.argv[1]).resolve())
