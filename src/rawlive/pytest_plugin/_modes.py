"""Record modes, capture names and the sentences the plugin fails with.

Pure decisions (no sockets): what ``--live-record-mode`` means, where a
test's capture lives, and what to tell the user when something is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "MODES",
    "RecordMode",
    "Settings",
    "auto_capture_name",
    "parse_record_mode",
    "record_command",
    "resolve_capture",
    "url_secrets",
]

RecordMode = Literal["none", "once", "rewrite"]
MODES: tuple[RecordMode, ...] = ("none", "once", "rewrite")

# pytest-recording's modes that add interactions to an existing cassette.
_REFUSED = {
    "all": "'all' re-records and appends every interaction",
    "new_episodes": "'new_episodes' appends the requests a cassette does not have yet",
}


class ModeError(ValueError):
    """A record mode or option combination the plugin refuses (one line, no traceback)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The run-wide recording settings, from the command line.

    Attributes:
        mode: the record mode.
        endpoint: where recording connects instead of the real service, or ``None``.
        pace: the default replay pace.
    """

    mode: RecordMode
    endpoint: str | None
    pace: str


def parse_record_mode(value: str | None, *, legacy_record: bool) -> RecordMode:
    """Return the record mode of ``--live-record-mode`` (and the old ``--live-record``).

    Raises:
        ModeError: an unknown mode, a mode that appends (``all``,
            ``new_episodes``), or ``--live-record`` with another mode.
    """
    if value is not None:
        value = value.strip().lower().replace("-", "_")
    if value in _REFUSED:
        raise ModeError(
            f"--live-record-mode={value} is not supported: {_REFUSED[value]} to a cassette, "
            "but a capture is one bidirectional session whose server frames answer the "
            "client's earlier frames, so appending new interactions to it has no clear "
            "meaning; use 'once' to record missing captures or 'rewrite' to record them again"
        )
    if value is not None and value not in MODES:
        raise ModeError(f"--live-record-mode must be one of none, once, rewrite; got {value!r}")
    if legacy_record:
        if value not in (None, "rewrite"):
            raise ModeError(
                f"--live-record means --live-record-mode=rewrite; it contradicts "
                f"--live-record-mode={value}"
            )
        return "rewrite"
    if value is None:
        return "none"
    return value


_UNSAFE = re.compile(r"[^\w.\-\[\]=,+]")


def auto_capture_name(test_file: Path, node_name: str, class_name: str | None) -> Path:
    """Return ``captures/<test module>/<test name>.jsonl`` next to ``test_file``.

    A test in a class is ``<Class>.<test name>``; characters that are awkward
    in file names (``/``, ``:``, spaces) become ``-``, so parametrized ids
    such as ``test_x[a-1]`` keep their brackets.
    """
    name = node_name if class_name is None else f"{class_name}.{node_name}"
    name = _UNSAFE.sub("-", name)
    return test_file.parent / "captures" / test_file.stem / f"{name}.jsonl"


def url_secrets(url: str) -> tuple[str, ...]:
    """Return the ``key``/``access_token``/``token`` query values of ``url`` (to scrub them)."""
    from urllib.parse import parse_qsl, urlsplit

    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=False)
    return tuple(v for k, v in pairs if k.lower() in ("key", "access_token", "token") and v)


def resolve_capture(name: str | Path, test_file: Path, rootdir: Path) -> Path:
    """Return the file an explicit marker path names.

    Absolute paths are kept. A relative path is looked up next to the test
    file, then under the rootdir; when neither exists, the first of those
    whose folder exists is where a recording goes (next to the test by default).
    """
    path = Path(name)
    if path.is_absolute():
        return path
    candidates = (test_file.parent / path, rootdir / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    for candidate in candidates:
        if candidate.parent.is_dir():
            return candidate
    return candidates[0]


def record_command(nodeid: str, *, mode: RecordMode = "once", endpoint: str | None) -> str:
    """Return the command that records one test's capture (a key in ``endpoint`` redacted)."""
    from rawlive.auth import redact_url

    where = f" --live-endpoint {redact_url(endpoint)}" if endpoint else ""
    need = "" if endpoint else "GEMINI_API_KEY=... "
    return f"{need}pytest --live-record-mode={mode}{where} '{nodeid}'"
