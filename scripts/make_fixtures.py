#!/usr/bin/env python3
"""Regenerate the capture fixtures in ``fixtures/`` from ``fixtures/sources/``.

Usage::

    python scripts/make_fixtures.py [--sources fixtures/sources] [--out fixtures]

Inputs (committed in ``fixtures/sources/``; provenance in ``fixtures/README.md``):

* ``live_api_quickstart_output.txt``: the printed output of the Gemini
  cookbook's Live API quickstart; its ``Received message:`` lines are real
  server frames and go into the fixtures byte for byte.
* ``real_messages.jsonl``: verbatim wire messages from public material.
* ``sdk_repr_messages.jsonl``: real server messages as dumped by the Python
  SDK (snake_case field names), converted here to the camelCase wire form.

The output is deterministic: fixed ``created`` and ``tool``, synthetic but
fixed timestamps, synthetic audio computed from integer parameters. Running
the script twice gives identical files. See ``fixtures/README.md`` for what is
verbatim and what is reconstructed in each file.
"""

from __future__ import annotations

import argparse
import base64
import math
import re
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from rawlive.capture.format import CaptureWriter, Direction, JSONObject, JSONValue  # noqa: E402

CREATED = "2026-11-24T18:00:00Z"
TOOL = "rawlive scripts/make_fixtures.py"
ENDPOINT = (
    "wss://generativelanguage.googleapis.com/ws/"
    "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=REDACTED"
)
SEED_MODEL = "models/gemini-2.0-flash-live-001"
SEED_HANDLE = "CihrNGZyMjh4dXY3cXFkYzVmMjR5cnlmZ2w5bnBvNTRhcmoxNW1lN2Fi"
GOAWAY_SOURCE = "github.com/kizuna-ai-lab/sokuji/issues/179"
DEADLINE_REASON = "Deadline expired before operation could complete."

AUDIO_RATE = 24_000
AUDIO_CHUNK_MS = 40
AUDIO_TURN_MS = 400
AUDIO_TONES_HZ = (440, 550, 660)
AUDIO_AMPLITUDE = 8000
AUDIO_FADE_SAMPLES = 240


def dumps(obj: JSONValue) -> str:
    """Compact JSON, as the service and rawlive send it."""
    return orjson.dumps(obj).decode("utf-8")


class Clock:
    """Synthetic, exactly representable timestamps in whole milliseconds."""

    def __init__(self) -> None:
        self.ms = 0

    def after(self, ms: int) -> float:
        self.ms += ms
        return self.ms / 1000


# -- seed parsing ----------------------------------------------------------------------


SEED_FILE = "live_api_quickstart_output.txt"


def seed_path(sources: Path) -> Path:
    path = sources / SEED_FILE
    if not path.is_file():
        raise SystemExit(f"{SEED_FILE} not found under {sources}")
    return path


def seed_lines(path: Path) -> list[tuple[int, str]]:
    # split("\n"), not splitlines(): the frames must stay byte-exact.
    text = path.read_text(encoding="utf-8")
    return list(enumerate(text.split("\n"), start=1))


def resumable_runs(lines: list[tuple[int, str]]) -> list[list[tuple[int, str, str]]]:
    """Return the 'Working with resumable sessions' runs: (lineno, 'send'|'recv', text)."""
    runs: list[list[tuple[int, str, str]]] = []
    current: list[tuple[int, str, str]] | None = None
    for lineno, line in lines:
        if line.startswith("Connecting to the service with handle "):
            current = []
            runs.append(current)
        elif current is not None:
            if line.startswith("Sending message: "):
                current.append((lineno, "send", line.removeprefix("Sending message: ")))
            elif line.startswith("Received message: "):
                current.append((lineno, "recv", line.removeprefix("Received message: ")))
            elif line.startswith("Close:"):
                current = None
    if len(runs) != 2:
        raise SystemExit(f"expected 2 resumable-session runs in the seed, found {len(runs)}")
    return runs


def text_run(lines: list[tuple[int, str]]) -> tuple[tuple[int, str], list[tuple[int, str]]]:
    """Return the first text-to-text run: the sent message and the printed response pieces."""
    sent: tuple[int, str] | None = None
    pieces: list[tuple[int, str]] = []
    for lineno, line in lines:
        if sent is None and line.startswith("Sent message: "):
            sent = (lineno, line.removeprefix("Sent message: "))
        elif sent is not None and line.startswith("Received response: "):
            pieces.append((lineno, line.removeprefix("Received response: ")))
        elif sent is not None and line.startswith("Session closed"):
            break
    if sent is None or not pieces:
        raise SystemExit("text-to-text run not found in the seed")
    return sent, pieces


def audio_loop_prompts(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Return the three prompts of the 'Towards Async Tasks' audio loop."""
    inside = False
    prompts: list[tuple[int, str]] = []
    for lineno, line in lines:
        if line.startswith("Towards Async Tasks"):
            inside = True
        elif inside and line.startswith("Sent message: "):
            prompts.append((lineno, line.removeprefix("Sent message: ")))
        elif inside and line.startswith("Session closed"):
            break
    if len(prompts) != 3:
        raise SystemExit(f"expected 3 prompts in the audio loop, found {len(prompts)}")
    return prompts


# -- message builders ------------------------------------------------------------------


def setup_msg(modality: str, resumption: JSONObject | None = None) -> str:
    setup: JSONObject = {
        "model": SEED_MODEL,
        "generationConfig": {"responseModalities": [modality]},
    }
    if resumption is not None:
        setup["sessionResumption"] = resumption
    return dumps({"setup": setup})


def user_turn(text: str) -> str:
    return dumps(
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": text}]}],
                "turnComplete": True,
            }
        }
    )


def usage(prompt: list[tuple[str, int]], response: list[tuple[str, int]]) -> JSONObject:
    p = sum(n for _, n in prompt)
    r = sum(n for _, n in response)
    return {
        "promptTokenCount": p,
        "responseTokenCount": r,
        "totalTokenCount": p + r,
        "promptTokensDetails": [{"modality": m, "tokenCount": n} for m, n in prompt],
        "responseTokensDetails": [{"modality": m, "tokenCount": n} for m, n in response],
    }


def seed_ref(seed: Path, lineno: int, what: str = "") -> JSONObject:
    text = f"{seed.name} line {lineno}"
    return {"source": f"{text} ({what})" if what else text}


# -- fixtures --------------------------------------------------------------------------


SEED_SECTION = (
    "printed output of the Gemini cookbook's Live API quickstart (TypeScript; "
    "github.com/google-gemini/cookbook, docs: ai.google.dev/gemini-api/docs/live)"
)


def make_seed_session(
    out: Path, seed: Path, run: list[tuple[int, str, str]], resumption: JSONObject, which: str
) -> None:
    note = (
        f"{which}. Server frames are the seed's printed 'Received message:' JSON byte for byte, "
        "as binary frames, in the printed order; each carries 'source' with its seed line. "
        "Client frames are NOT in the seed and were reconstructed: the setup (no 'source' key), "
        "and one clientContent per printed 'Sending message:' (only the text is verbatim; "
        "'source' says 'text only'). The seed printed each "
        "'Sending message:' before setupComplete arrived; the capture sends the first turn "
        "after setupComplete, as a conforming client does, and later turns right after the "
        "previous turnComplete. Endpoint, model and timestamps are reconstructed."
    )
    clock = Clock()
    with CaptureWriter(
        out,
        created=CREATED,
        tool=TOOL,
        source=f"{SEED_SECTION}: {seed.name}, section 'Working with resumable sessions'",
        note=note,
    ) as cw:
        cw.open_conn(1, ENDPOINT, SEED_MODEL, clock.after(0))
        cw.frame(1, "client", setup_msg("TEXT", resumption), clock.after(2))
        # Turns the seed printed before setupComplete wait for it, as a conforming client does.
        held: list[tuple[int, str]] = []
        setup_done = False
        last = "client"
        for lineno, kind, text in run:
            if kind == "send":
                held.append((lineno, text))
            else:
                gap = 300 if last == "client" else 40
                frame = text.encode("utf-8")
                cw.frame(1, "server", frame, clock.after(gap), extra=seed_ref(seed, lineno))
                last = "server"
                setup_done = setup_done or orjson.loads(text) == {"setupComplete": {}}
            if setup_done:
                for sent_line, sent in held:
                    ref = seed_ref(seed, sent_line, "text only")
                    cw.frame(1, "client", user_turn(sent), clock.after(5), extra=ref)
                    last = "client"
                held.clear()
        if held:
            raise SystemExit(f"turns never sent (no setupComplete in the run): {held}")
        cw.close_conn(1, 1000, "", "client", t=clock.after(200))


def make_text_session(out: Path, seed: Path, lines: list[tuple[int, str]]) -> None:
    (sent_line, sent), pieces = text_run(lines)
    note = (
        "The seed printed only the request text and the two response text pieces "
        "('Received response: ...'). Those texts are verbatim (frames with 'source'); every "
        "envelope around them, setupComplete, generationComplete, turnComplete and the "
        "usageMetadata counts are reconstructed. Whitespace at the boundary between the two "
        "pieces may have been lost in the printout. Model and timestamps are assumed."
    )
    clock = Clock()
    with CaptureWriter(
        out,
        created=CREATED,
        tool=TOOL,
        source=(
            f"{SEED_SECTION}: {seed.name}, "
            f"first text-to-text run (lines {sent_line}-{pieces[-1][0]})"
        ),
        note=note,
    ) as cw:
        cw.open_conn(1, ENDPOINT, SEED_MODEL, clock.after(0))
        cw.frame(1, "client", setup_msg("TEXT"), clock.after(2))
        cw.frame(1, "server", dumps({"setupComplete": {}}).encode(), clock.after(300))
        cw.frame(
            1,
            "client",
            user_turn(sent),
            clock.after(5),
            extra=seed_ref(seed, sent_line, "text only"),
        )
        for i, (lineno, piece) in enumerate(pieces):
            frame = dumps({"serverContent": {"modelTurn": {"parts": [{"text": piece}]}}})
            cw.frame(
                1,
                "server",
                frame.encode("utf-8"),
                clock.after(350 if i == 0 else 60),
                extra=seed_ref(seed, lineno, "text only; envelope reconstructed"),
            )
        cw.frame(
            1,
            "server",
            dumps({"serverContent": {"generationComplete": True}}).encode(),
            clock.after(20),
        )
        done: JSONObject = {
            "serverContent": {"turnComplete": True},
            "usageMetadata": usage([("TEXT", 15)], [("TEXT", 12)]),
        }
        cw.frame(1, "server", dumps(done).encode(), clock.after(10))
        cw.close_conn(1, 1000, "", "client", t=clock.after(200))


def tone(freq_hz: int, ms: int) -> bytes:
    """A sine tone as 24 kHz PCM16LE mono with short linear fades."""
    n = AUDIO_RATE * ms // 1000
    samples = []
    for i in range(n):
        fade = min(1.0, i / AUDIO_FADE_SAMPLES, (n - 1 - i) / AUDIO_FADE_SAMPLES)
        samples.append(
            round(AUDIO_AMPLITUDE * fade * math.sin(2 * math.pi * freq_hz * i / AUDIO_RATE))
        )
    return struct.pack(f"<{n}h", *samples)


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def make_audio_turns(out: Path, seed: Path, lines: list[tuple[int, str]]) -> None:
    prompts = audio_loop_prompts(lines)
    note = (
        "SYNTHETIC audio. The three prompts are verbatim from the seed ('Sent message:' lines, "
        "frames with 'source'); the seed printed no server frames for this run. Every server "
        "frame is synthetic: a sine tone per turn "
        f"({', '.join(str(f) for f in AUDIO_TONES_HZ)} Hz, {AUDIO_TURN_MS} ms, "
        "24 kHz PCM16LE mono) "
        f"in {AUDIO_CHUNK_MS} ms inlineData chunks, then generationComplete, then turnComplete "
        "with plausible usageMetadata (AUDIO response tokens at 25 per second). Model, setup and "
        "timestamps are assumed."
    )
    chunk_bytes = AUDIO_RATE * AUDIO_CHUNK_MS // 1000 * 2
    response_tokens = AUDIO_TURN_MS * 25 // 1000
    prompt_text = [15, 22, 30]
    clock = Clock()
    with CaptureWriter(
        out,
        created=CREATED,
        tool=TOOL,
        source=(
            f"{SEED_SECTION}: {seed.name}, "
            "section 'Towards Async Tasks' (three-turn text-to-audio loop)"
        ),
        note=note,
    ) as cw:
        cw.open_conn(1, ENDPOINT, SEED_MODEL, clock.after(0))
        cw.frame(1, "client", setup_msg("AUDIO"), clock.after(2))
        cw.frame(1, "server", dumps({"setupComplete": {}}).encode(), clock.after(300))
        for turn, ((lineno, prompt), freq) in enumerate(zip(prompts, AUDIO_TONES_HZ, strict=True)):
            cw.frame(
                1,
                "client",
                user_turn(prompt),
                clock.after(5),
                extra=seed_ref(seed, lineno, "text only"),
            )
            for i, chunk in enumerate(chunks(tone(freq, AUDIO_TURN_MS), chunk_bytes)):
                part: JSONObject = {
                    "inlineData": {
                        "mimeType": f"audio/pcm;rate={AUDIO_RATE}",
                        "data": base64.b64encode(chunk).decode("ascii"),
                    }
                }
                frame = dumps({"serverContent": {"modelTurn": {"parts": [part]}}})
                cw.frame(1, "server", frame.encode(), clock.after(450 if i == 0 else 20))
            cw.frame(
                1,
                "server",
                dumps({"serverContent": {"generationComplete": True}}).encode(),
                clock.after(20),
            )
            prompt_usage = [("TEXT", prompt_text[turn])]
            if turn:
                prompt_usage.append(("AUDIO", response_tokens * turn))
            done: JSONObject = {
                "serverContent": {"turnComplete": True},
                "usageMetadata": usage(prompt_usage, [("AUDIO", response_tokens)]),
            }
            cw.frame(1, "server", dumps(done).encode(), clock.after(10))
        cw.close_conn(1, 1000, "", "client", t=clock.after(200))


def load_jsonl(path: Path) -> list[JSONObject]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def make_real_messages(out: Path, sources: Path) -> None:
    entries = load_jsonl(sources / "real_messages.jsonl")
    note = (
        "Every entry of real_messages.jsonl, in file order, as one frame record each. The "
        "messages come from many unrelated public sessions, so this is a message collection, "
        "not one conversation: all frames are put on connection 1, there are no open or close "
        "records, and the timestamps are placeholders (0.1 s apart). data is the compact JSON "
        "of each message (orjson); client frames are text, server frames binary. Each frame "
        "keeps the entry's 'source' and 'note' as extra keys."
    )
    with CaptureWriter(
        out,
        created=CREATED,
        tool=TOOL,
        source="real_messages.jsonl (verbatim wire-level messages from public material)",
        note=note,
    ) as cw:
        for i, entry in enumerate(entries):
            if entry["direction"] not in ("client", "server"):
                raise SystemExit(f"real_messages.jsonl entry {i + 1}: bad direction")
            direction: Direction = "client" if entry["direction"] == "client" else "server"
            data = dumps(entry["message"])
            payload: str | bytes = data if direction == "client" else data.encode("utf-8")
            extra: JSONObject = {"source": entry["source"]}
            if "note" in entry:
                extra["note"] = entry["note"]
            cw.frame(1, direction, payload, (i + 1) / 10, extra=extra)


# Keys whose values are user JSON, not protocol fields: function-call arguments and
# function responses keep their keys verbatim.
OPAQUE_KEYS = frozenset(("args", "response"))
# Wire names this script knows; an SDK key that maps to anything else stops the script,
# so new material gets a human look instead of a silent guess.
KNOWN_WIRE_KEYS = frozenset(
    {
        "sessionResumptionUpdate",
        "newHandle",
        "resumable",
        "lastConsumedClientMessageIndex",
        "setupComplete",
        "goAway",
        "timeLeft",
        "toolCall",
        "functionCalls",
        "id",
        "name",
        "args",
        "toolCallCancellation",
        "ids",
        "serverContent",
        "modelTurn",
        "role",
        "parts",
        "text",
        "inlineData",
        "mimeType",
        "data",
        "executableCode",
        "code",
        "language",
        "codeExecutionResult",
        "outcome",
        "output",
        "generationComplete",
        "turnComplete",
        "interrupted",
        "inputTranscription",
        "outputTranscription",
        "finished",
        "groundingMetadata",
        "usageMetadata",
        "promptTokenCount",
        "cachedContentTokenCount",
        "responseTokenCount",
        "toolUsePromptTokenCount",
        "thoughtsTokenCount",
        "totalTokenCount",
        "promptTokensDetails",
        "cacheTokensDetails",
        "responseTokensDetails",
        "toolUsePromptTokensDetails",
        "modality",
        "tokenCount",
    }
)


def camel(key: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), key)


def sdk_to_wire(value: JSONValue) -> JSONValue:
    if isinstance(value, dict):
        out: JSONObject = {}
        for key, item in value.items():
            wire = camel(key)
            if wire not in KNOWN_WIRE_KEYS:
                raise SystemExit(f"unknown SDK field {key!r}: add its wire name after checking it")
            out[wire] = item if wire in OPAQUE_KEYS else sdk_to_wire(item)
        return out
    if isinstance(value, list):
        return [sdk_to_wire(item) for item in value]
    return value


def make_sdk_repr(out: Path, sources: Path) -> None:
    entries = load_jsonl(sources / "sdk_repr_messages.jsonl")
    note = (
        "Real server messages dumped by the google-genai Python SDK "
        "(LiveServerMessage.model_dump_json(exclude_none=True)), converted to WIRE form: every "
        "snake_case SDK field name was turned into camelCase mechanically "
        "(session_resumption_update -> sessionResumptionUpdate, new_handle -> newHandle, "
        "prompt_tokens_details -> promptTokensDetails, executable_code -> executableCode, "
        "code_execution_result -> codeExecutionResult, function_calls -> functionCalls, ...), "
        "except inside opaque values (functionCalls[].args, functionResponses[].response), "
        "which are kept verbatim. Values are verbatim. Key order is the SDK's, not the "
        "server's, and fields the SDK did not model were already dropped by the SDK. The "
        "messages come from several notebook runs (see each frame's 'source'); all are put on "
        "connection 1 as binary server frames with placeholder timestamps 0.1 s apart, and "
        "there are no open or close records."
    )
    with CaptureWriter(
        out,
        created=CREATED,
        tool=TOOL,
        source="sdk_repr_messages.jsonl (SDK-dumped real server messages)",
        note=note,
    ) as cw:
        for i, entry in enumerate(entries):
            if entry["direction"] != "server":
                raise SystemExit(f"sdk_repr_messages.jsonl entry {i + 1} is not a server message")
            data = dumps(sdk_to_wire(entry["message"]))
            cw.frame(
                1, "server", data.encode("utf-8"), (i + 1) / 10, extra={"source": entry["source"]}
            )


def make_close_goaway(out: Path, sources: Path) -> None:
    goaway = next(
        e
        for e in load_jsonl(sources / "real_messages.jsonl")
        if isinstance(e["message"], dict) and "goAway" in e["message"]
    )
    if GOAWAY_SOURCE not in str(goaway["source"]):
        raise SystemExit("the goAway entry in real_messages.jsonl changed source")
    note = (
        "The goAway frame is verbatim from real_messages.jsonl and the close (server, 1011, "
        "reason verbatim) from the same public issue; frames with "
        "'source' are real. The setup, setupComplete, endpoint, model and all timestamps are "
        "reconstructed (a ~10 min connection; the close 50 s after goAway as timeLeft says)."
    )
    clock = Clock()
    with CaptureWriter(
        out,
        created=CREATED,
        tool=TOOL,
        source=(
            f"{GOAWAY_SOURCE} (user log of a Gemini Live session ending at the connection deadline)"
        ),
        note=note,
    ) as cw:
        cw.open_conn(1, ENDPOINT, SEED_MODEL, clock.after(0))
        cw.frame(1, "client", setup_msg("AUDIO"), clock.after(2))
        cw.frame(1, "server", dumps({"setupComplete": {}}).encode(), clock.after(300))
        cw.frame(
            1,
            "server",
            dumps(goaway["message"]).encode("utf-8"),
            clock.after(550_000 - clock.ms),
            extra={"source": goaway["source"]},
        )
        cw.close_conn(
            1,
            1011,
            DEADLINE_REASON,
            "server",
            t=clock.after(50_000),
            extra={"source": f"{GOAWAY_SOURCE} (close reason as reported)"},
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sources",
        type=Path,
        default=ROOT / "fixtures" / "sources",
        help="folder of source material (default: fixtures/sources)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "fixtures", help="output folder")
    args = parser.parse_args(argv)
    sources: Path = args.sources
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    seed = seed_path(sources)
    lines = seed_lines(seed)
    first, resumed = resumable_runs(lines)
    last_handle = orjson.loads(first[-1][2])["sessionResumptionUpdate"]["newHandle"]
    if last_handle != SEED_HANDLE:
        raise SystemExit(f"the first run's last handle is {last_handle!r}, not {SEED_HANDLE!r}")
    make_seed_session(
        out / "seed_resumable_session.jsonl",
        seed,
        first,
        {},
        "First run of the resumable-session example (session resumption enabled)",
    )
    make_seed_session(
        out / "seed_resumed_session.jsonl",
        seed,
        resumed,
        {"handle": SEED_HANDLE},
        "Second run: resumes the first with its last newHandle",
    )
    make_text_session(out / "seed_text_session.jsonl", seed, lines)
    make_audio_turns(out / "seed_audio_turns.jsonl", seed, lines)
    make_real_messages(out / "real_messages.jsonl", sources)
    make_sdk_repr(out / "sdk_repr_messages.jsonl", sources)
    make_close_goaway(out / "close_goaway.jsonl", sources)
    for path in sorted(out.glob("*.jsonl")):
        # Fixtures are public test data, unlike real captures (which stay 0o600).
        path.chmod(0o644)
        print(f"wrote {path.relative_to(out.parent) if path.is_relative_to(out.parent) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
