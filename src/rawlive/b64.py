"""Base64 as the Live API uses it: standard or URL-safe, padded or not.

The official Python SDK sends URL-safe base64, the docs and the service use the
standard alphabet, and some clients strip padding. Decoding accepts all four
forms and is strict otherwise: characters outside the alphabet, or a length
that no base64 text can have, raise :class:`binascii.Error` (callers translate
it to their own error class).

The codec decodes with :func:`b64decode_spelled`, which also remembers how the
text was spelled, so that re-encoding gives the alphabet and padding that came
in: standard padded text (the service's form) decodes to plain ``bytes``; any
other spelling decodes to a :class:`SpelledBytes` subclass of ``bytes`` (equal
to, and hashing like, the plain bytes) whose :meth:`~SpelledBytes.base64`
gives the original text back. :func:`b64encode_any` is the one encoder.
"""

from __future__ import annotations

import binascii
import sys

__all__ = [
    "SpelledBytes",
    "a2b_strict",
    "b64decode_any",
    "b64decode_spelled",
    "b64encode_any",
    "b64encode_str",
]

_URLSAFE_TO_STD = str.maketrans("-_", "+/")
_STD_TO_URLSAFE = str.maketrans("+/", "-_")
_a2b = binascii.a2b_base64
_b2a = binascii.b2a_base64


def b64decode_any(text: str) -> bytes:
    """Decode standard or URL-safe base64 text, with or without padding.

    Raises:
        binascii.Error: the text is not valid base64 (bad character, or a
            length that leaves one dangling character).
        TypeError: ``text`` is not a ``str``.
    """
    data = _decode_standard(text)
    return data if data is not None else _decode_other(text)


def _decode_standard(text: str) -> bytes | None:
    """The fast path: decode standard, padded base64 (what the service sends).

    Returns ``None`` when the text may be another accepted spelling.
    """
    if len(text) % 4 == 0:
        try:
            return a2b_strict(text)
        except binascii.Error:
            if "-" not in text and "_" not in text:
                raise
    return None


def _decode_other(text: str) -> bytes:
    """Decode URL-safe or unpadded base64 (the fast path did not apply)."""
    if "-" in text or "_" in text:
        text = text.translate(_URLSAFE_TO_STD)
    rem = len(text) % 4
    if rem:
        if rem == 1:
            raise binascii.Error(f"truncated base64: {len(text)} characters is not a valid length")
        text += "=" * (4 - rem)
    return a2b_strict(text)


if sys.version_info >= (3, 11):

    def a2b_strict(text: str) -> bytes:
        """Decode standard, padded base64 strictly (no stray characters, exact padding).

        The codec's hot path calls it first; any other spelling goes through
        :func:`b64decode_spelled`. Raises :class:`binascii.Error`.
        """
        return _a2b(text, strict_mode=True)

else:  # pragma: no cover - Python 3.10 has no strict_mode
    import base64 as _base64

    def a2b_strict(text: str) -> bytes:
        return _base64.b64decode(text, validate=True)


def b64encode_str(data: bytes) -> str:
    """Encode bytes as standard, padded base64 text (what the service sends)."""
    return _b2a(data, newline=False).decode("ascii")


class SpelledBytes(bytes):
    """Bytes decoded from base64 that was not spelled standard and padded.

    Equal to (and hashing like) the plain bytes; only :meth:`base64` differs:
    it returns the text the bytes came from, so a re-encoded frame keeps the
    wire's alphabet (URL-safe stays URL-safe) and padding. Slicing, joining or
    any bytes operation returns plain ``bytes``, which encode as standard.
    """

    __slots__ = ()

    def base64(self) -> str:
        """Return the base64 text these bytes were decoded from."""
        raise NotImplementedError  # pragma: no cover - every subclass overrides


class _UrlSafe(SpelledBytes):
    __slots__ = ()

    def base64(self) -> str:
        return b64encode_str(self).translate(_STD_TO_URLSAFE)


class _UrlSafeUnpadded(SpelledBytes):
    __slots__ = ()

    def base64(self) -> str:
        return b64encode_str(self).translate(_STD_TO_URLSAFE).rstrip("=")


class _Unpadded(SpelledBytes):
    __slots__ = ()

    def base64(self) -> str:
        return b64encode_str(self).rstrip("=")


class _Verbatim(SpelledBytes):
    # Text no encoder produces (mixed alphabets, non-zero trailing bits in an
    # unpadded or URL-safe text): kept verbatim in the instance dict.
    def base64(self) -> str:
        text: str = self.__dict__["text"]
        return text


# (URL-safe, padded) -> the class that re-spells the text that way.
_SPELLINGS: dict[tuple[bool, bool], type[SpelledBytes]] = {
    (True, True): _UrlSafe,
    (True, False): _UrlSafeUnpadded,
    (False, False): _Unpadded,
}


def b64decode_spelled(text: str) -> bytes:
    """Decode like :func:`b64decode_any`, remembering a non-standard spelling.

    Returns plain ``bytes`` for standard padded text and a :class:`SpelledBytes`
    for every other accepted spelling. Standard padded text is not checked for
    non-zero trailing bits (``"AB=="`` decodes like ``"AA=="`` and re-encodes as
    ``"AA=="``): no encoder writes them, and checking would cost the hot path.

    Raises:
        binascii.Error: the text is not valid base64.
    """
    data = _decode_standard(text)
    if data is not None:
        return data
    data = _decode_other(text)
    urlsafe = "-" in text or "_" in text
    padded = len(text) % 4 == 0
    cls = _SPELLINGS.get((urlsafe, padded))  # None: standard padded, yet not canonical
    if cls is not None:
        spelled: SpelledBytes = cls(data)
        if spelled.base64() == text:
            return spelled
    verbatim = _Verbatim(data)
    verbatim.__dict__["text"] = text
    return verbatim


def b64encode_any(data: bytes | bytearray | memoryview) -> str:
    """Encode bytes as base64 text: their own spelling if they remember one, else standard."""
    if type(data) is bytes:
        return _b2a(data, newline=False).decode("ascii")
    if isinstance(data, SpelledBytes):
        return data.base64()
    return b64encode_str(bytes(data))
