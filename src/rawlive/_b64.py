"""Base64 as the Live API uses it: standard or URL-safe, padded or not.

The official Python SDK sends URL-safe base64, the docs and the service use the
standard alphabet, and some clients strip padding. Decoding accepts all four
forms and is strict otherwise: characters outside the alphabet, or a length
that no base64 text can have, raise :class:`binascii.Error` (callers translate
it to their own error class).
"""

from __future__ import annotations

import binascii
import sys

__all__ = ["b64decode_any", "b64encode_str"]

_URLSAFE_TO_STD = str.maketrans("-_", "+/")
_a2b = binascii.a2b_base64
_b2a = binascii.b2a_base64


def b64decode_any(text: str) -> bytes:
    """Decode standard or URL-safe base64 text, with or without padding.

    Raises:
        binascii.Error: the text is not valid base64 (bad character, or a
            length that leaves one dangling character).
        TypeError: ``text`` is not a ``str``.
    """
    if len(text) % 4 == 0:
        # Fast path: standard, padded base64 (what the service sends).
        try:
            return _strict_a2b(text)
        except binascii.Error:
            if "-" not in text and "_" not in text:
                raise
    if "-" in text or "_" in text:
        text = text.translate(_URLSAFE_TO_STD)
    rem = len(text) % 4
    if rem:
        if rem == 1:
            raise binascii.Error(f"truncated base64: {len(text)} characters is not a valid length")
        text += "=" * (4 - rem)
    return _strict_a2b(text)


if sys.version_info >= (3, 11):

    def _strict_a2b(text: str) -> bytes:
        return _a2b(text, strict_mode=True)

else:  # pragma: no cover - Python 3.10 has no strict_mode
    import base64 as _base64

    def _strict_a2b(text: str) -> bytes:
        return _base64.b64decode(text, validate=True)


def b64encode_str(data: bytes) -> str:
    """Encode bytes as standard, padded base64 text (what the service sends)."""
    return _b2a(data, newline=False).decode("ascii")
