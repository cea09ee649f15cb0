"""``rawlive wav CAPTURE OUT.wav``: the model's (or the user's) audio from a capture."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli import subcommand
from rawlive.cli._args import add_capture_argument, load_capture, output_file

SUMMARY = "write a capture's audio to a WAV file"
DESCRIPTION = (
    "Write the model's audio in a capture (or, with --input, the user's) to a WAV file. "
    "Redacted chunks are written as silence of the same length."
)
EPILOG = """\
examples:
  rawlive say "Hello" --record session.jsonl && rawlive wav session.jsonl reply.wav
  rawlive wav session.jsonl question.wav --input
"""


def add_parser(sub: Any) -> None:
    p = subcommand(sub, "wav", SUMMARY, DESCRIPTION, EPILOG, run)
    add_capture_argument(p)
    p.add_argument("out", metavar="OUT.wav", type=output_file, help="the WAV file to write")
    p.add_argument("--input", action="store_true", help="the user's audio instead of the model's")


def run(args: argparse.Namespace) -> int:
    from rawlive.capture.tools import extract_wav

    capture, problem = load_capture(args.capture, partial=True)
    if problem:
        print(f"rawlive: warning: {problem}", file=sys.stderr)
    info = extract_wav(capture, args.out, direction="client" if args.input else "server")
    line = (
        f"wrote {info.path}: {info.duration:.2f} s of {info.rate} Hz audio from "
        f"{info.chunks} chunks"
    )
    if info.redacted_chunks:
        line += f" ({info.redacted_chunks} redacted chunks written as silence)"
    print(line)
    if info.skipped_frames:
        print(
            f"rawlive: warning: {info.skipped_frames} frames could not be decoded and were skipped",
            file=sys.stderr,
        )
    return 1 if problem else 0
