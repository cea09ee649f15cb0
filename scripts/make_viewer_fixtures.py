#!/usr/bin/env python3
"""Record the viewer's fixture captures from the bundled fake server.

Usage::

    python scripts/make_viewer_fixtures.py [--out fixtures]

Writes two captures, each recorded by ``rawlive.connect(record=...)`` talking
to :class:`rawlive.testing.FakeLiveServer` on loopback (real frames, real
timing, audio paced at playback speed):

* ``fake_handover_audio.jsonl``: an AUDIO session with input and output
  transcription across two connections. Turn 1 is spoken input
  (``realtimeInput.audio``, 16 kHz); then the server sends ``goAway`` and the
  client's reconnect policy hands over to a second connection, which resumes
  the session. On it, turn 2 is cut by ``interrupted`` and turn 3 completes.
* ``fake_tool_call.jsonl``: an AUDIO session with one function declared;
  the model calls it, the client answers with a ``toolResponse`` of the same
  id, and the model speaks the result.

Timestamps are the real ones of the run, so the files differ from run to run
in their times; handles and call ids are seeded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import rawlive  # noqa: E402
from rawlive.capture.format import CaptureMeta, CaptureWriter, read_capture  # noqa: E402
from rawlive.resilience import Reconnected, ReconnectPolicy  # noqa: E402
from rawlive.testing import FakeLiveServer  # noqa: E402
from rawlive.testing.fake_model import synthesize_speech  # noqa: E402
from rawlive.testing.faults import GoAwayThenClose, InterruptedWithAudio  # noqa: E402

MODEL = "models/rawlive-demo"
LIGHTS = {
    "functionDeclarations": [
        {"name": "turn_on_the_lights", "description": "Turn on the lights in the room."}
    ]
}
TOOL = "rawlive scripts/make_viewer_fixtures.py"
NOTES = {
    "fake_handover_audio.jsonl": (
        "Recorded by rawlive.connect(record=...) against rawlive.testing.FakeLiveServer on "
        "loopback (realtime pacing, response_delay 0.35 s, seed 15), faults "
        "GoAwayThenClose('1.5s', after_turn=1, connection=1) and "
        "InterruptedWithAudio(connection=2, on_turn=1, after_chunks=12); the client's "
        "ReconnectPolicy handed over to connection 2 with the last resumable handle. Every "
        "frame, time and close is as recorded; the user's spoken input is "
        "rawlive.testing.fake_model.synthesize_speech at 16 kHz and the model's audio is the "
        "fake's synthesized speech: SYNTHETIC audio, not a real model."
    ),
    "fake_tool_call.jsonl": (
        "Recorded by rawlive.connect(record=...) against rawlive.testing.FakeLiveServer on "
        "loopback (realtime pacing, response_delay 0.35 s, seed 16) with one function "
        "declared (turn_on_the_lights); the client answered the toolCall 0.3 s later with a "
        "toolResponse of the same id. Every frame, time and close is as recorded; the "
        "model's audio is the fake's synthesized speech: SYNTHETIC, not a real model."
    ),
}
INPUT_RATE = 16_000
INPUT_CHUNK_MS = 100


async def drain_until_reconnected(session: rawlive.Session, limit: float = 10.0) -> None:
    async def read() -> None:
        async for event in session:
            if isinstance(event, Reconnected):
                return

    await asyncio.wait_for(read(), limit)


async def record_handover(path: Path) -> None:
    faults = [
        GoAwayThenClose("1.5s", after_turn=1, connection=1),
        InterruptedWithAudio(connection=2, on_turn=1, after_chunks=12),
    ]
    async with (
        FakeLiveServer(realtime=True, response_delay=0.35, seed=15, faults=faults) as server,
        rawlive.connect(
            MODEL,
            endpoint=server.url,
            response_modalities=["AUDIO"],
            input_audio_transcription=True,
            output_audio_transcription=True,
            reconnect=ReconnectPolicy(handover_margin=0.5, backoff_initial=0.05),
            record=path,
        ) as session,
    ):
        speech = synthesize_speech("What is the capital of Brazil?", rate=INPUT_RATE)
        step = INPUT_RATE * 2 * INPUT_CHUNK_MS // 1000
        for start in range(0, len(speech), step):
            await session.send_audio(speech[start : start + step], rate=INPUT_RATE)
            await asyncio.sleep(INPUT_CHUNK_MS / 1000)
        await session.send_audio_stream_end()
        await session.receive_turn(timeout=20)
        await session.wait_for_handle(5.0)
        await drain_until_reconnected(session)
        await session.send_text("Can you tell me a joke?")
        await session.receive_turn(timeout=20)
        await session.send_text("What was my first question?")
        await session.receive_turn(timeout=20)
        await asyncio.sleep(0.2)


async def record_tool_call(path: Path) -> None:
    async with (
        FakeLiveServer(realtime=True, response_delay=0.35, seed=16) as server,
        rawlive.connect(
            MODEL,
            endpoint=server.url,
            response_modalities=["AUDIO"],
            output_audio_transcription=True,
            tools=[LIGHTS],
            record=path,
        ) as session,
    ):
        await session.send_text("Hello")
        await session.receive_turn(timeout=20)
        await session.send_text("Turn on the lights, please")
        call_turn = await session.receive_turn(timeout=20)
        calls = [
            call
            for message in call_turn.messages
            if message.tool_call is not None
            for call in message.tool_call.function_calls or ()
        ]
        if len(calls) != 1:
            raise SystemExit(f"expected one function call, got {len(calls)}")
        await asyncio.sleep(0.3)  # the application takes a moment to switch the lights
        call = calls[0]
        await session.send_tool_response(
            rawlive.FunctionResponse(id=call.id, name=call.name, response={"output": "on"})
        )
        answer = await session.receive_turn(timeout=20)
        if not answer.audio_bytes:
            raise SystemExit("the model did not speak after the tool response")
        await asyncio.sleep(0.2)


def add_provenance(path: Path, note: str) -> None:
    """Rewrite the recording with a meta line that says where it came from."""
    capture = read_capture(path)
    created = capture.meta.created if capture.meta is not None else None
    meta = CaptureMeta(
        created=created, tool=TOOL, source="rawlive.testing.FakeLiveServer", note=note
    )
    with CaptureWriter.with_meta(path, meta) as writer:
        for record in capture.records:
            writer.write(record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "fixtures", help="output folder")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, record in (
        ("fake_handover_audio.jsonl", record_handover),
        ("fake_tool_call.jsonl", record_tool_call),
    ):
        path = out / name
        path.unlink(missing_ok=True)
        asyncio.run(record(path))
        add_provenance(path, NOTES[name])
        path.chmod(0o644)  # fixtures are public test data
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
