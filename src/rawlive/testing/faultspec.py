"""Faults written as text, for command lines: ``KIND[:FIELD=VALUE,...]``.

The kinds are the point faults of :mod:`rawlive.testing.faults` and
:class:`~rawlive.testing.faults.DelayFrames`; the fields are the faults' own
(with ``-`` or ``_``), triggers included::

    goaway:after-seconds=5,time-left=10s     GoAwayThenClose(after_seconds=5, time_left="10s")
    drop:after-frames=40                     DropConnection(after_frames=40)
    drop:after-turn=2                        DropConnection(after_turn=2)
    close:code=1011,reason=Internal error    CloseWith(code=1011, reason="Internal error")
    delay:seconds=0.2                        DelayFrames(seconds=0.2)
    slow-pongs:delay=2                       SlowPongs(delay=2.0)

Durations take an optional ``s`` (``after-seconds=5s``); a reason may hold
anything but a comma.
"""

from __future__ import annotations

import dataclasses

from rawlive.testing.faults import (
    CloseWith,
    DelayFrames,
    DropConnection,
    Fault,
    GoAwayThenClose,
    SlowPongs,
)

__all__ = ["FAULT_KINDS", "FAULT_SYNTAX", "parse_fault"]

FAULT_KINDS: dict[str, type[Fault]] = {
    "goaway": GoAwayThenClose,
    "close": CloseWith,
    "drop": DropConnection,
    "delay": DelayFrames,
    "slow-pongs": SlowPongs,
}

FAULT_SYNTAX = (
    "KIND[:FIELD=VALUE,...] with KIND one of goaway, close, drop, delay, slow-pongs; "
    "triggers after-seconds=N, after-frames=N, after-turn=N, after-complete=N, after-chunks=N, "
    "on-turn=N, "
    "connection=N, once=false; fields: goaway time-left=50s close-after=N code=N reason=TEXT, "
    "close code=N reason=TEXT, delay seconds=N, slow-pongs delay=N duration=N. "
    "Examples: goaway:after-seconds=5  drop:after-frames=40  close:code=1011,after-turn=1"
)


def _convert(kind: str, name: str, annotation: str, text: str) -> object:
    text = text.strip()
    if "bool" in annotation:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{kind}: {name} takes true or false, got {text!r}")
    if "float" in annotation:
        try:
            return float(text.removesuffix("s"))
        except ValueError:
            raise ValueError(f"{kind}: {name} takes seconds, got {text!r}") from None
    if "int" in annotation:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{kind}: {name} takes a whole number, got {text!r}") from None
    return text


def parse_fault(spec: str) -> Fault:
    """Return the fault ``spec`` describes.

    Raises:
        ValueError: an unknown kind or field, a bad value, or a fault the
            record itself refuses; the message says which.
    """
    kind, _, rest = spec.strip().partition(":")
    kind = kind.strip().lower().replace("_", "-")
    cls = FAULT_KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown fault kind {kind!r}: use one of {', '.join(FAULT_KINDS)}")
    fields = {f.name: str(f.type) for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    values: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        name, eq, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not eq:
            raise ValueError(f"{kind}: expected FIELD=VALUE, got {item!r}")
        if name not in fields:
            known = ", ".join(n.replace("_", "-") for n in fields)
            raise ValueError(f"{kind}: unknown field {name.replace('_', '-')!r} (known: {known})")
        values[name] = _convert(kind, name, fields[name], text)
    try:
        return cls(**values)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{kind}: {exc}") from None
