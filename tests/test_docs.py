"""Docs are code: every fenced block of README.md and docs/*.md runs here.

Each block is one test, named after its file and line (``docs/testing.md:40``),
so a failure names the block. The convention, for anyone writing docs:

* ```` ```console ```` (or an untagged block whose lines start with ``$ ``):
  lines starting with ``$ `` are commands, run with bash one after the other in
  the same folder; the lines after a command are its expected output (stdout
  and stderr together). A line ``...`` matches any number of lines, and
  ``...`` or ``…`` (a line cut at the terminal width) inside a line matches
  any text. A command with no output shown must exit 0; one whose output is
  shown may exit non-zero (``rawlive diff`` does on differences) as long as
  the output matches.
* ```` ```python ````: run as a script; top-level ``await`` runs under
  ``asyncio.run``. A block that defines ``test_*`` functions is run with
  pytest instead (asyncio_mode=auto), so examples written as tests are tests.
* ```` ```sh ```` / ```` ```bash ````: run with ``bash -e``.
* ```` ```json ````: parsed (one document, or one per line).
* ```` ```text ````: output shown for reading, nothing to run.
* ``<!-- not run: REASON -->`` on the line right before the opening fence:
  the block is only parsed (python: ``ast.parse``; shell and console:
  ``bash -n``; JavaScript: ``node --check`` when node is installed). Use it for blocks that need a real key, a package install, a
  long-running server or the test command itself.

Everything runs offline in a fresh temporary folder, with ``rawlive`` on
PATH, no GEMINI_API_KEY/GOOGLE_API_KEY in the environment, and ``fixtures/``
linked in, so ``rawlive show fixtures/...`` works as written. Long-running
servers (``rawlive serve``) are marked not run in the docs.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(?P<reason>\S.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<info>[\w+-]*)")
TIMEOUT = 120
# Files the examples name as if the reader had them; each is a copy of a fixture.
EXAMPLE_FILES = {
    "captures/greeting.jsonl": "fixtures/seed_text_session.jsonl",
    "a.jsonl": "fixtures/seed_text_session.jsonl",
    "b.jsonl": "fixtures/seed_audio_turns.jsonl",
    "session.jsonl": "fixtures/seed_text_session.jsonl",
}
SECRET_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

# Run with asyncio.run when the block has top-level await.
PYTHON_RUNNER = """\
import ast, asyncio, inspect, sys
path = sys.argv[1]
source = open(path, encoding="utf-8").read()
code = compile(source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
namespace = {"__name__": "__main__", "__file__": path}
result = eval(code, namespace)
if inspect.iscoroutine(result):
    asyncio.run(result)
"""


@dataclasses.dataclass(frozen=True)
class Block:
    path: Path
    line: int  # the line of the opening fence, 1-based
    lang: str
    text: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def kind(self) -> str:
        if self.lang in ("console", "shell-session"):
            return "console"
        if self.lang in ("python", "py", "pycon"):
            return "python"
        if self.lang in ("sh", "bash", "shell"):
            return "sh"
        if self.lang in ("json", "jsonl"):
            return "json"
        if self.lang in ("text", "txt", "output"):
            return "text"
        if self.lang in ("js", "javascript", "mjs"):
            return "js"
        if self.lang == "" and any(line.startswith("$ ") for line in self.text.splitlines()):
            return "console"
        return "unknown"


def parse_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            # Blocks inside list items are indented; the indent is not content.
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1  # the closing fence
        marker = NOT_RUN.match(lines[start - 1]) if start > 0 else None
        blocks.append(
            Block(
                path=path,
                line=start + 1,
                lang=info,
                text="\n".join(body) + "\n",
                not_run=marker["reason"] if marker else None,
            )
        )
    return blocks


BLOCKS = [block for path in DOCS for block in parse_blocks(path)]


# -- running ---------------------------------------------------------------------------


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["HOME"] = str(home)  # no ~/.env, no user config
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleave as they are written
    env["COLUMNS"] = "100"
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "home").mkdir()
    (work / "fixtures").symlink_to(ROOT / "fixtures", target_is_directory=True)
    for name, source in EXAMPLE_FILES.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / source, work / name)
    return work


def run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=clean_env(cwd.parent / "home"),
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
    )


def console_steps(text: str) -> list[tuple[str, list[str]]]:
    """Split a console block into (command, expected output lines)."""
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"output before the first command: {line!r}")
    return steps


def _line_pattern(expected: str) -> re.Pattern[str]:
    # "..." and "…" (a line cut at the terminal width) match any text.
    return re.compile(".*".join(re.escape(part) for part in re.split(r"\.\.\.|…", expected)))


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """Match output lines; a line ``...`` is any number of lines, ``...`` in a line any text."""
    expected = [line.rstrip() for line in expected]
    while expected and not expected[-1]:
        expected.pop()
    actual = [line.rstrip() for line in actual]
    while actual and not actual[-1]:
        actual.pop()
    memo: dict[tuple[int, int], bool] = {}

    def match(i: int, j: int) -> bool:
        key = (i, j)
        if key not in memo:
            if i == len(expected):
                memo[key] = j == len(actual)
            elif expected[i].strip() == "...":
                memo[key] = any(match(i + 1, k) for k in range(j, len(actual) + 1))
            else:
                memo[key] = (
                    j < len(actual)
                    and _line_pattern(expected[i]).fullmatch(actual[j]) is not None
                    and match(i + 1, j + 1)
                )
        return memo[key]

    return match(0, 0)


def bash_syntax_ok(script: str, cwd: Path) -> None:
    result = run(["bash", "-n"], cwd, stdin=script)
    assert result.returncode == 0, f"not valid shell: {result.stdout}"


def check_not_run(block: Block, cwd: Path) -> None:
    kind = block.kind
    if kind == "python":
        ast.parse(block.text, filename=block.id)
    elif kind == "console":
        bash_syntax_ok("\n".join(cmd for cmd, _ in console_steps(block.text)), cwd)
    elif kind in ("sh", "unknown") and block.lang == "":
        bash_syntax_ok(block.text, cwd)
    elif kind == "js":
        node = shutil.which("node")
        if node is None:
            pytest.skip("node is not installed: the JavaScript block is not parsed")
        script = cwd / "doc_block.mjs"
        script.write_text(block.text, encoding="utf-8")
        result = run([node, "--check", str(script)], cwd)
        assert result.returncode == 0, f"not valid JavaScript: {result.stdout}"
    elif kind == "json":
        check_json(block)


def check_json(block: Block) -> None:
    try:
        json.loads(block.text)
    except json.JSONDecodeError:
        for number, line in enumerate(block.text.splitlines(), start=1):
            if line.strip():
                try:
                    json.loads(line)
                except json.JSONDecodeError as exc:
                    raise AssertionError(f"line {number} of the block is not JSON: {exc}") from None


def check_console(block: Block, cwd: Path) -> None:
    for command, expected in console_steps(block.text):
        result = run(["bash", "-c", command], cwd)
        actual = result.stdout.splitlines()
        shown = "\n".join(actual[-60:])
        shown_lines = [line for line in expected if line.strip() not in ("", "...")]
        # A failing command is fine when the doc shows what it prints (diff exits 1
        # on differences, wav prints "rawlive: error: ..."); the output is checked.
        assert result.returncode == 0 or shown_lines, (
            f"$ {command}\nexited {result.returncode}:\n{shown}"
        )
        if not any(line.strip() for line in expected):
            continue  # output not shown in the doc: only the exit status counts
        assert output_matches(expected, actual), (
            f"$ {command}\nexpected:\n" + "\n".join(expected) + f"\n\ngot:\n{shown}"
        )


def check_python(block: Block, cwd: Path) -> None:
    tree = ast.parse(block.text, filename=block.id)  # a syntax error names the block
    if "from google import genai" in block.text:
        # The official SDK is a test-only extra ([sdk]); the CI matrix runs without it.
        pytest.importorskip(
            "google.genai", reason="the official SDK (google-genai) is not installed"
        )
    tests = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    ]
    if tests:
        script = cwd / "test_doc_block.py"
        script.write_text(block.text, encoding="utf-8")
        result = run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "asyncio_mode=auto",
                "-o",
                "asyncio_default_fixture_loop_scope=function",
                "--rootdir",
                str(cwd),
                str(script),
            ],
            cwd,
        )
        assert result.returncode == 0, result.stdout[-4000:]
        assert f"{len(tests)} passed" in result.stdout, result.stdout[-4000:]
        return
    script = cwd / "doc_block.py"
    script.write_text(block.text, encoding="utf-8")
    result = run([sys.executable, "-c", PYTHON_RUNNER, str(script)], cwd)
    assert result.returncode == 0, result.stdout[-4000:]


def check_sh(block: Block, cwd: Path) -> None:
    result = run(["bash", "-e", "-c", block.text], cwd)
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_block(block: Block, workdir: Path) -> None:
    if block.not_run is not None:
        check_not_run(block, workdir)
        return
    kind = block.kind
    assert kind not in ("unknown", "js"), (
        f"a block tagged {block.lang!r} cannot run here, or an untagged block without `$ ` "
        "commands: tag it (console, python, sh, json, text) or put <!-- not run: REASON --> "
        "on the line before it"
    )
    if kind == "console":
        check_console(block, workdir)
    elif kind == "python":
        check_python(block, workdir)
    elif kind == "sh":
        check_sh(block, workdir)
    elif kind == "json":
        check_json(block)
    # text: shown output, nothing to run


def test_every_doc_has_blocks_and_markers_have_reasons() -> None:
    assert len(BLOCKS) > 20
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "not run" in line and line.lstrip().startswith("<!--"):
                assert NOT_RUN.match(line), f"{path.name}:{number}: write <!-- not run: REASON -->"


# -- the checker checks ------------------------------------------------------------------


def test_output_matching_rules() -> None:
    assert output_matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert output_matches(["a", "...", "b"], ["a", "b"])
    assert output_matches(["port ...:1 ok"], ["port 127.0.0.1:1 ok"])
    assert output_matches(["handle Cih... (resumable)"], ["handle Cih... (resumable)"])
    assert output_matches(["(models/gemini-2.0-…"], ["(models/gemini-2.0-flash-live-001)"])
    assert not output_matches(["a", "b"], ["a", "c"])
    assert not output_matches(["a"], ["a", "extra"])
    assert not output_matches([], ["something printed"])


def test_blocks_are_found_with_markers_and_lines(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "text\n<!-- not run: needs a key -->\n```python\nx = 1\n```\n\n"
        "* item\n\n  ```\n  $ echo hi\n  hi\n  ```\n",
        encoding="utf-8",
    )
    first, second = parse_blocks(doc)
    assert (first.line, first.lang, first.text, first.not_run) == (
        3,
        "python",
        "x = 1\n",
        "needs a key",
    )
    assert (second.line, second.kind, second.text, second.not_run) == (
        9,
        "console",
        "$ echo hi\nhi\n",
        None,
    )
