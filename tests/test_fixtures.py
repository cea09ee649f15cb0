"""The fixtures are rebuilt from fixtures/sources by scripts/make_fixtures.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def _tool(path: Path) -> str:
    meta = orjson.loads(path.read_bytes().split(b"\n", 1)[0])
    return str(meta.get("tool", ""))


def test_every_fixture_names_the_script_that_builds_it() -> None:
    # A fixture nobody can rebuild would have no provenance.
    for path in sorted(FIXTURES.glob("*.jsonl")):
        tool = _tool(path)
        assert tool.startswith("rawlive scripts/"), (path.name, tool)
        assert (ROOT / tool.removeprefix("rawlive ")).is_file(), (path.name, tool)


def test_make_fixtures_rebuilds_its_fixtures_byte_for_byte(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_fixtures.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    built = sorted(p.name for p in tmp_path.glob("*.jsonl"))
    committed = sorted(
        p.name for p in FIXTURES.glob("*.jsonl") if _tool(p) == "rawlive scripts/make_fixtures.py"
    )
    assert built == committed
    for name in built:
        assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes(), name


def test_fixture_sources_are_in_the_repository() -> None:
    sources = FIXTURES / "sources"
    for name in (
        "live_api_quickstart_output.txt",
        "real_messages.jsonl",
        "sdk_repr_messages.jsonl",
    ):
        assert (sources / name).stat().st_size > 0, name
