"""The repository stands alone and writes its version once."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import rawlive

ROOT = Path(__file__).resolve().parent.parent
# What a fresh clone contains that may point somewhere (issue: "the repository must
# stand alone"): nothing may refer to a sibling folder of the repository.
SCANNED = ("src", "tests", "docs", "fixtures", "scripts", "README.md", "CHANGELOG.md")
# The grep, spelled so that this file does not match itself.
SIBLING = re.compile("|".join((r"\.\./" + "sha" + "red", "sha" + "red/")))


def _files() -> list[Path]:
    out: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
            )
    return out


def test_nothing_points_outside_the_repository() -> None:
    hits = []
    for path in _files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for lineno, line in enumerate(text.splitlines(), start=1):
            if SIBLING.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()[:80]}")
    assert hits == []


def test_the_version_is_written_once() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", rawlive.__version__)
    # pyproject.toml reads it from src/rawlive/__init__.py (hatch); the installed
    # metadata says the same.
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert re.search(r"^version\s*=", pyproject, re.MULTILINE) is None
    assert importlib.metadata.version("rawlive") == rawlive.__version__
    copies = [
        str(path.relative_to(ROOT))
        for path in _files()
        if path.suffix in (".py", ".toml", ".md")
        and rawlive.__version__ in path.read_text(encoding="utf-8")
    ]
    # The CHANGELOG names releases; everything else reads rawlive.__version__.
    assert copies == ["src/rawlive/__init__.py"] or set(copies) == {
        "src/rawlive/__init__.py",
        "CHANGELOG.md",
    }
