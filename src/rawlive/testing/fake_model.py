"""The scripted "model" behind :class:`~rawlive.testing.FakeLiveServer`.

:class:`FakeModel` decides *what* the fake service says; the server decides
*how* it travels (frames, chunks, pacing). Everything here is pure and
deterministic: the same history and input always give the same reply, the
same text always gives the same audio. No asyncio, no network.

Theory of operation: the server calls :meth:`FakeModel.reply` with the
conversation so far (``Content`` turns, both roles, oldest first, *without*
the turn being answered) and the user's text for this turn. Audio turns reach
the model as the text ``"(N.N s of audio)"``. When the session declares
functions, :meth:`FakeModel.match_function` runs first; if it picks one, the
server sends a tool call and later asks :meth:`FakeModel.tool_reply` for the
answer. Subclass and override any of these methods to script other replies,
then pass an instance as ``FakeLiveServer(model=...)``.

Replies that the seed tutorial relies on:

==========================================  ==========================================
user text                                   reply
==========================================  ==========================================
``Hello``                                   ``Hello there! How can I help you today?``
``Hello? Gemini are you there?``            ``Yes, I am here! How can I help you today?``
anything about the capital of Brazil        ``The capital of Brazil is **Brasília**.``
a joke request                              a short joke
the weather                                 ``I can't check live weather, ...``
``what was the last question I asked?``     ``The last question you asked was: "..."``
anything else                               ``You said: "<text>".``
==========================================  ==========================================
"""

from __future__ import annotations

import array
import functools
import json
import math
import re
import sys
import zlib
from collections.abc import Mapping, Sequence

from rawlive.audio.pcm import OUTPUT_RATE
from rawlive.protocol.messages import Content, FunctionCall, FunctionDeclaration, FunctionResponse

__all__ = [
    "AUDIO_TOKENS_PER_SECOND",
    "FakeModel",
    "split_text",
    "synthesize_speech",
    "words",
]

AUDIO_TOKENS_PER_SECOND = 25
"""Tokens one second of audio costs in usage metadata (the rate the fixtures use)."""

_WORD = re.compile(r"[^\W_]+")
_PIECE = re.compile(r"\s*\S+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

_AMPLITUDE = 9000
_GAP = 0.18  # fraction of each word's slot left silent, so words are audible as bursts


def words(text: str) -> list[str]:
    """Return the lowercase words of ``text`` (letters and digits; punctuation dropped).

    ``snake_case`` and ``camelCase`` identifiers split into their words, so a
    function name and a sentence compare word by word.
    """
    return [w.lower() for w in _WORD.findall(_CAMEL.sub(" ", text.replace("_", " ")))]


def split_text(text: str, *, first: int = 3, size: int = 4) -> list[str]:
    """Split ``text`` into streaming pieces of a few words, as the service streams text.

    Each piece after the first starts with the whitespace that preceded it,
    so ``"".join(split_text(t)) == t`` for every ``t``.

    Args:
        text: the text to split.
        first: words in the first piece.
        size: words in every later piece.

    Returns:
        The pieces, in order; ``[]`` for an empty text.
    """
    tokens = _PIECE.findall(text)
    if not tokens:
        return [text] if text else []
    pieces = ["".join(tokens[:first])]
    pieces.extend("".join(tokens[i : i + size]) for i in range(first, len(tokens), size))
    pieces[-1] += text[sum(map(len, tokens)) :]  # trailing whitespace, if any
    return pieces


def synthesize_speech(
    text: str, *, rate: int = OUTPUT_RATE, ms_per_char: int = 60, max_ms: int = 10_000
) -> bytes:
    """Return deterministic, speech-like 16-bit little-endian mono PCM for ``text``.

    The audio lasts ``speech_ms`` = ``min(max(len(text), 1) * ms_per_char, max_ms)``
    milliseconds, i.e. exactly ``speech_ms * rate // 1000`` samples. Each word
    is a short burst of a harmonic tone whose pitch depends on the word, under
    a smooth envelope, with a little silence between words: not speech, but
    not silence either, so level meters, VAD and playback code see a signal.

    Args:
        text: the words to "say".
        rate: the sample rate in Hz.
        ms_per_char: milliseconds of audio per character of ``text``.
        max_ms: the longest audio produced, in milliseconds.

    Returns:
        The PCM bytes (even length).
    """
    return _synthesize(text, rate, ms_per_char, max_ms)


@functools.lru_cache(maxsize=64)
def _synthesize(text: str, rate: int, ms_per_char: int, max_ms: int) -> bytes:
    total_ms = min(max(len(text), 1) * ms_per_char, max_ms)
    n = total_ms * rate // 1000
    out = array.array("h", bytes(2 * n))
    ws = text.split() or [text]
    weights = [len(w) + 1 for w in ws]
    total_weight = sum(weights)
    start = 0
    acc = 0
    for word, weight in zip(ws, weights, strict=True):
        acc += weight
        end = n * acc // total_weight
        voiced = int((end - start) * (1 - _GAP))
        f0 = 110 + zlib.crc32(word.lower().encode()) % 110  # 110..219 Hz, like a voice
        step = 2 * math.pi * f0 / rate
        for i in range(voiced):
            env = math.sin(math.pi * i / voiced)
            ph = step * i
            s = 0.6 * math.sin(ph) + 0.3 * math.sin(2 * ph) + 0.1 * math.sin(3 * ph)
            out[start + i] = int(_AMPLITUDE * env * s)
        start = end
    if sys.byteorder == "big":  # pragma: no cover - the wire is little-endian
        out.byteswap()
    return out.tobytes()


class FakeModel:
    """Deterministic scripted replies; subclass to change any of them.

    Attributes:
        ms_per_char: milliseconds of synthesized speech per reply character.
        max_speech_ms: cap on the length of one spoken reply, in milliseconds.
        turn_overhead_tokens: TEXT tokens each turn adds to the context on
            top of its content (role markers), so prompt counts look real.
    """

    ms_per_char: int = 60
    max_speech_ms: int = 10_000
    turn_overhead_tokens: int = 4

    # -------------------------------------------------------------- replies

    def reply(self, history: Sequence[Content], user_text: str) -> str:
        """Return the reply to ``user_text``.

        Args:
            history: the conversation before this turn, oldest first, both
                roles (including history restored by session resumption).
            user_text: what the user said in this turn; ``"(N.N s of audio)"``
                for an audio turn, ``""`` when the turn carried no text.

        Returns:
            The full reply text. The server streams it as text pieces or as
            synthesized audio, depending on the session's response modality.
        """
        ws = words(user_text)
        joined = " ".join(ws)
        if not ws:
            return "I'm listening. What would you like to talk about?"
        if _asks_previous_question(joined):
            previous = self.previous_question(history)
            if previous is None:
                return "You haven't asked me anything yet."
            return f'The last question you asked was: "{previous}"'
        if "are you there" in joined:
            return "Yes, I am here! How can I help you today?"
        if ws[0] in {"hello", "hi", "hey", "greetings"} and len(ws) <= 3:
            return "Hello there! How can I help you today?"
        if "capital" in ws and "brazil" in ws:
            return "The capital of Brazil is **Brasília**."
        if "joke" in ws or "jokes" in ws:
            return "Why don't scientists trust atoms? Because they make up everything!"
        if "weather" in ws:
            return "I can't check live weather, but I hope it's a pleasant day where you are!"
        return f'You said: "{user_text.strip()}".'

    def previous_question(self, history: Sequence[Content]) -> str | None:
        """Return the user's previous question, read from ``history``.

        The most recent user turn whose text ends with ``?`` wins; without
        one, the most recent user turn with text. Turns without text (tool
        responses, bare audio) are skipped.

        Returns:
            The text, stripped, or None when the user has said nothing yet.
        """
        latest: str | None = None
        for content in reversed(history):
            if content.role != "user":
                continue
            text = content.text.strip()
            if not text:
                continue
            if text.endswith("?"):
                return text
            if latest is None:
                latest = text
        return latest

    # ---------------------------------------------------------------- tools

    def match_function(
        self, declarations: Sequence[FunctionDeclaration], user_text: str
    ) -> FunctionDeclaration | None:
        """Pick the declared function the user asks for, if any.

        A function matches when every word of its name occurs among the words
        of ``user_text`` ("Turn on the lights, please" matches
        ``turn_on_the_lights`` but not ``turn_off_the_lights``). When several
        match, the one with the most name words wins (the first on a tie).

        Returns:
            The declaration to call, or None to answer in words.
        """
        said = set(words(user_text))
        best: FunctionDeclaration | None = None
        best_len = 0
        for decl in declarations:
            name_words = words(decl.name or "")
            if name_words and set(name_words) <= said and len(name_words) > best_len:
                best, best_len = decl, len(name_words)
        return best

    def function_args(self, declaration: FunctionDeclaration, user_text: str) -> dict[str, object]:
        """Return the ``args`` of a call to ``declaration`` (``{}``, as the real examples show)."""
        return {}

    def tool_reply(
        self, history: Sequence[Content], call: FunctionCall, response: FunctionResponse
    ) -> str:
        """Return what the model says after a function returned.

        Args:
            history: the conversation so far, ending with the call and its response.
            call: the call the server sent.
            response: the client's answer to it (same ``id``).

        Returns:
            ``"OK. The lights are now on."`` for light switches, a sentence
            quoting ``error`` when the response holds one, else
            ``"Done: <compact JSON of the response>"``.
        """
        result: Mapping[str, object] = response.response or {}
        name_words = words(call.name or "")
        if "error" in result:
            return f"Sorry, {call.name} failed: {_compact(result['error'])}"
        if "lights" in name_words or "light" in name_words:
            state = "off" if "off" in name_words else "on"
            return f"OK. The lights are now {state}."
        return f"Done: {_compact(result)}"

    # ---------------------------------------------------- audio and tokens

    def speech_ms(self, text: str) -> int:
        """Return how many milliseconds of audio :meth:`speak` makes for ``text``."""
        return min(max(len(text), 1) * self.ms_per_char, self.max_speech_ms)

    def speak(self, text: str, rate: int = OUTPUT_RATE) -> bytes:
        """Return the spoken form of ``text``: 16-bit mono PCM at ``rate`` Hz.

        The length is exactly ``speech_ms(text) * rate // 1000`` samples.
        """
        return synthesize_speech(
            text, rate=rate, ms_per_char=self.ms_per_char, max_ms=self.max_speech_ms
        )

    def count_text_tokens(self, text: str) -> int:
        """Return the token count of ``text`` (about four characters per token, at least 1)."""
        return max(1, math.ceil(len(text) / 4))

    def count_audio_tokens(self, seconds: float) -> int:
        """Return the token count of ``seconds`` of audio (:data:`AUDIO_TOKENS_PER_SECOND`)."""
        # round() first: summed chunk durations carry float noise (1.2000000000000002 s)
        return max(1, math.ceil(round(seconds * AUDIO_TOKENS_PER_SECOND, 6)))


_PREVIOUS_QUESTION = (
    "last question",
    "previous question",
    "what did i ask",
    "what did i just ask",
    "what was my question",
    "what i asked",
    "what i just asked",
)


def _asks_previous_question(joined_words: str) -> bool:
    return any(p in joined_words for p in _PREVIOUS_QUESTION)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
