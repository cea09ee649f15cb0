"""The first client frame where a test's run left its capture, shown as ``rawlive diff`` does.

The replay server records what the client really sent (``record=``); this
module walks that run and the capture side by side with the replay's own
matching rule (:func:`~rawlive.capture.replay.client_frame_shape`, audio
runs matched by any number of chunks) and renders the first pair that
differs: the two frames, then the shape diff of just those two frames in
the words of ``rawlive diff``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rawlive.capture.format import Capture, FrameRecord
from rawlive.capture.replay import FrameShape, client_frame_shape

__all__ = ["FrameDifference", "first_difference", "format_first_difference"]

_FRAME_LIMIT = 400


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameDifference:
    """The first client frame of a run that the capture did not expect.

    Attributes:
        conn: the connection number.
        index: the frame's number among the run's client frames of that connection (1-based).
        expected: the capture's frame at that point (``None``: the capture had no more).
        got: the run's frame.
    """

    conn: int
    index: int
    expected: FrameRecord | None
    got: FrameRecord


def _shape(record: FrameRecord) -> FrameShape:
    return client_frame_shape(record.payload if record.data is None else record.data)


def _first_in_conn(capture: Capture, run: Capture, conn: int) -> FrameDifference | None:
    expected = capture.frames(dir="client", conn=conn)
    got = run.frames(dir="client", conn=conn)
    i = 0
    absorbing = False
    for j, record in enumerate(got):
        shape = _shape(record)
        if absorbing and shape.audio:
            continue
        absorbing = False
        if i >= len(expected):
            return FrameDifference(conn=conn, index=j + 1, expected=None, got=record)
        want = _shape(expected[i])
        if want.audio and shape.audio:
            absorbing = True
            while i < len(expected) and _shape(expected[i]).audio:
                i += 1
            continue
        if want.audio or want != shape:
            return FrameDifference(conn=conn, index=j + 1, expected=expected[i], got=record)
        i += 1
    return None


def first_difference(capture: Capture, run: Capture) -> FrameDifference | None:
    """Return the first client frame of ``run`` that ``capture`` did not expect, if any."""
    for conn in run.connections():
        found = _first_in_conn(capture, run, conn)
        if found is not None:
            return found
    return None


def _text(record: FrameRecord) -> str:
    text = record.data if record.data is not None else repr(record.payload)
    return text if len(text) <= _FRAME_LIMIT else f"{text[:_FRAME_LIMIT]}... ({len(text)} chars)"


def format_first_difference(
    diff: FrameDifference, *, capture_name: str, run_name: str = "this run"
) -> str:
    """Render ``diff`` as ``rawlive diff`` shows captures: ``-`` capture, ``+`` run.

    The two frames come first, then the ``rawlive diff`` text of two
    one-frame captures holding them (key paths, types, enum-like values that
    differ; a difference of text alone is "same shape").
    """
    from rawlive.capture.tools import diff_captures, format_diff

    where = f"connection #{diff.conn}, client frame #{diff.index}"
    lines = [f"first differing frame: {where}"]
    lines.append(f"--- {capture_name}")
    lines.append(f"+++ {run_name}")
    if diff.expected is None:
        lines.append("  - client (no more client frames in the capture)")
    else:
        lines.append(f"  - client {_text(diff.expected)}")
    lines.append(f"  + client {_text(diff.got)}")
    one = (diff.expected,) if diff.expected is not None else ()
    shape = diff_captures(
        Capture(records=one), Capture(records=(diff.got,)), a_name=capture_name, b_name=run_name
    )
    body = format_diff(shape).splitlines()[2:]  # the --- / +++ lines are above already
    lines.extend(body)
    return "\n".join(lines)
