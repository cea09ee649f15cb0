"""WAV files in and out: a crash-safe streaming writer and chunked readers.

Theory of operation
-------------------
:class:`WavWriter` writes the canonical 44-byte PCM header itself::

    0  "RIFF" <riff size>  "WAVE"
    12 "fmt " 16  format=1 channels rate byte_rate block_align bits
    36 "data" <data size>
    44 audio ...

The header written at open already describes a valid, empty file. Audio goes
straight to the file (nothing is kept in memory, so memory use is constant
however long the recording). :meth:`WavWriter.flush` patches the two size
fields (seek back, write, seek to the end of the audio) and flushes the file,
so after a flush the file is a complete WAV as far as the flushed audio goes.
The data is always written *before* the sizes that cover it, so a process
that dies at any point leaves a file whose header never claims more audio than
the file holds. Automatic flushes every ``flush_every`` seconds of audio bound
how much a crash can lose.

When the data size is odd (8-bit mono), RIFF wants a pad byte after it; the
writer writes one at every flush and overwrites it with the next audio.

Reading goes through the stdlib :mod:`wave` module and only accepts what the
Live API takes: 16-bit mono PCM at any rate. Anything else raises
:class:`~rawlive.errors.AudioFormatError` with a command line to convert it.
"""

from __future__ import annotations

import contextlib
import math
import os
import shlex
import struct
import wave
from collections.abc import Generator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, ClassVar

from rawlive.audio.pcm import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH, AudioChunk, pcm_mime
from rawlive.errors import AudioFormatError, ConfigurationError, WriterClosedError

__all__ = ["WavWriter", "read_wav", "read_wav_chunks"]

_U32 = struct.Struct("<I")
_CHUNK_HEADER = struct.Struct("<4sI")
_FMT_PCM = struct.Struct("<HHIIHH")
_WAVE_FORMAT_PCM = 1
_HEADER_SIZE = 44
_U32_MAX = 0xFFFFFFFF


def _header(channels: int, rate: int) -> bytes:
    block_align = channels * SAMPLE_WIDTH
    return b"".join(
        (
            _CHUNK_HEADER.pack(b"RIFF", _HEADER_SIZE - 8),
            b"WAVE",
            _CHUNK_HEADER.pack(b"fmt ", _FMT_PCM.size),
            _FMT_PCM.pack(
                _WAVE_FORMAT_PCM,
                channels,
                rate,
                rate * block_align,
                block_align,
                SAMPLE_WIDTH * 8,
            ),
            _CHUNK_HEADER.pack(b"data", 0),
        )
    )


def _describe(rate: int, channels: int, sample_width: int) -> str:
    return f"{rate} hz, {channels} channel(s), {sample_width * 8}-bit"


class WavWriter:
    """Stream PCM into a WAV file that stays valid while it is being written.

    Memory use is constant: audio goes straight to the file. The header is
    written at open, so the file is a valid (empty) WAV at once; after every
    :meth:`flush` (explicit, automatic every ``flush_every`` seconds of
    audio, or at :meth:`close`) the file is a complete WAV holding everything
    written so far, readable by :mod:`wave` even while the writer stays
    open, and even after the process is killed. Flushing hands the data to the
    operating system; it does not ``fsync``, so a power cut can still lose it.

    Chunks need not hold whole frames: a trailing partial frame is carried
    over and completed by the next :meth:`write`.

    Use it as a context manager, or call :meth:`close` when done::

        with WavWriter("reply.wav", rate=24000) as wav:
            wav.write(pcm)

    Args:
        target: a path, or a binary file object that is seekable. A file
            object is written from its current position, and whatever follows
            that position is discarded.
        rate: frames per second.
        channels: samples per frame. The Live API uses 1. Samples are 16-bit,
            the only width the Live API speaks.
        flush_every: flush automatically after this many seconds of audio;
            ``None`` flushes only on :meth:`flush` and :meth:`close`.
        close_file: whether :meth:`close` closes a file object passed as
            ``target``; default False. Files opened from a path are always
            closed.

    Raises:
        AudioFormatError: ``rate`` or ``channels`` is out of range.
        ConfigurationError: ``flush_every`` is not positive, or ``target``
            is a file object that cannot seek or was opened in append mode
            (``"ab"``: writes would ignore the seeks that patch the header).
        OSError: the file cannot be opened or written.
    """

    sample_width: ClassVar[int] = SAMPLE_WIDTH
    """Bytes per sample: 2, always (16-bit, the only width the Live API speaks)."""

    def __init__(
        self,
        target: str | os.PathLike[str] | BinaryIO,
        *,
        rate: int = OUTPUT_RATE,
        channels: int = 1,
        flush_every: float | None = 1.0,
        close_file: bool = False,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int) or not 0 < rate <= _U32_MAX:
            raise AudioFormatError(f"bad sample rate {rate!r}: expected a positive integer")
        if not isinstance(channels, int) or not 1 <= channels <= 0xFFFF:
            raise AudioFormatError(f"bad channel count {channels!r}: expected 1 to 65535")
        block_align = channels * SAMPLE_WIDTH
        if rate * block_align > _U32_MAX:
            raise AudioFormatError(
                f"{_describe(rate, channels, SAMPLE_WIDTH)} audio is too many bytes per second "
                "for a wav header"
            )
        flush_bytes = 0
        if flush_every is not None:
            if not (math.isfinite(flush_every) and flush_every > 0):
                raise ConfigurationError(
                    f"flush_every must be a positive number of seconds or None, got {flush_every!r}"
                )
            flush_bytes = max(1, round(flush_every * rate)) * block_align

        self._rate = rate
        self._channels = channels
        self._block_align = block_align
        self._flush_bytes = flush_bytes
        self._pending = b""
        self._unflushed = 0
        self._closed = False

        self._path: Path | None
        if isinstance(target, (str, os.PathLike)):
            self._path = Path(target)
            # Closed in close(); the writer outlives this method.
            self._file: BinaryIO = open(self._path, "wb")  # noqa: SIM115
            self._close_file = True
        else:
            self._path = None
            if not target.seekable():
                raise ConfigurationError(
                    "wav writer needs a seekable file to patch the header; "
                    "write to a regular file or an io.BytesIO"
                )
            if "a" in str(getattr(target, "mode", "")):
                raise ConfigurationError(
                    "wav writer cannot patch the header of a file opened in append mode; "
                    "open it with 'wb' or 'r+b'"
                )
            self._file = target
            self._close_file = close_file

        try:
            self._start = self._file.tell()
            self._file.write(_header(channels, rate))
            self._file.truncate()
            self._data_start = self._start + _HEADER_SIZE
            self._data_bytes = 0
            # RIFF size (file length - 8) must fit in 32 bits, pad byte included.
            riff_overhead = self._data_start - self._start - 8
            limit = _U32_MAX - riff_overhead - 1
            self._max_data = limit - limit % block_align
            self._write_sizes()
        except BaseException:
            if self._close_file:
                self._file.close()
            raise

    # -- properties ---------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The file's path, or None when the writer was given a file object."""
        return self._path

    @property
    def rate(self) -> int:
        """Frames per second."""
        return self._rate

    @property
    def channels(self) -> int:
        """Samples per frame."""
        return self._channels

    @property
    def frames_written(self) -> int:
        """Complete frames in the file (a carried-over partial frame is not counted)."""
        return self._data_bytes // self._block_align

    @property
    def bytes_written(self) -> int:
        """Bytes of audio in the file's data chunk (whole frames only)."""
        return self._data_bytes

    @property
    def duration(self) -> float:
        """Seconds of audio in the file (whole frames only)."""
        return self._data_bytes / (self._block_align * self._rate)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    # -- writing ------------------------------------------------------------

    def write(self, pcm: bytes) -> None:
        """Append PCM frames to the file.

        ``pcm`` need not hold whole frames: a partial frame at the end is kept
        and completed by the next call. The file header is patched every
        ``flush_every`` seconds of audio, not on every call.

        Args:
            pcm: interleaved little-endian samples in the writer's format;
                any bytes-like object with byte-sized items.

        Raises:
            AudioFormatError: the data chunk would grow past the 4 GiB WAV
                limit; nothing of ``pcm`` is written. Start a new file.
            WriterClosedError: the writer is closed (a ValueError).
            OSError: the file cannot be written.
        """
        if self._closed:
            raise WriterClosedError("write to a closed wav writer")
        n = len(pcm)
        if not self._pending and n % self._block_align == 0:
            if not n:
                return
            self._check_room(n)
            self._file.write(pcm)
        else:
            n = self._write_partial(pcm)
        self._data_bytes += n
        self._unflushed += n
        if self._flush_bytes and self._unflushed >= self._flush_bytes:
            self.flush()

    def _write_partial(self, pcm: bytes) -> int:
        """Write whole frames of pending + pcm, keep the rest; return bytes written."""
        block = self._block_align
        view = memoryview(pcm).cast("B")
        pending = self._pending
        total = len(pending) + len(view)
        whole = total - total % block
        self._check_room(whole)
        if whole == 0:
            self._pending = pending + bytes(view)
            return 0
        if pending:
            need = block - len(pending)
            self._file.write(pending + bytes(view[:need]))
            view = view[need:]
        cut = len(view) - len(view) % block
        if cut:
            self._file.write(view[:cut])
        self._pending = bytes(view[cut:])
        return whole

    def _check_room(self, n: int) -> None:
        if self._data_bytes + n > self._max_data:
            raise AudioFormatError(
                f"a wav file holds at most {self._max_data} bytes of audio; "
                f"this write would make {self._data_bytes + n}, start a new file"
            )

    def _write_sizes(self) -> None:
        """Patch both size fields, pad odd data, leave the position at the end of the audio."""
        f = self._file
        end = self._data_start + self._data_bytes
        pad = self._data_bytes & 1
        if pad:
            f.seek(end)
            f.write(b"\0")
        f.seek(self._start + 4)
        f.write(_U32.pack(end + pad - self._start - 8))
        f.seek(self._data_start - 4)
        f.write(_U32.pack(self._data_bytes))
        f.seek(end)
        f.flush()
        self._unflushed = 0

    def truncate(self, data_bytes: int) -> None:
        """Cut the audio back to its first ``data_bytes`` bytes (whole frames).

        A reconnecting session uses it to drop a reply that was cut off and is
        answered again. A carried-over partial frame is dropped too.

        Raises:
            WriterClosedError: the writer is closed (also a ValueError).
            OSError: the file cannot be written.
        """
        if self._closed:
            raise WriterClosedError("truncate of a closed wav writer")
        keep = max(0, min(data_bytes, self._data_bytes))
        keep -= keep % self._block_align
        self._pending = b""
        self._data_bytes = keep
        self._file.seek(self._data_start + keep)
        self._file.truncate()
        self._write_sizes()

    def flush(self) -> None:
        """Make the file a complete WAV holding every whole frame written so far.

        After this returns, another process can open the file with
        :mod:`wave` and read all of those frames. A carried-over partial frame
        is not included.

        Raises:
            WriterClosedError: the writer is closed (a ValueError).
            OSError: the file cannot be written.
        """
        if self._closed:
            raise WriterClosedError("flush of a closed wav writer")
        self._write_sizes()

    def close(self) -> None:
        """Finalize the file and close it if the writer owns it.

        Calling it again does nothing.

        Raises:
            AudioFormatError: a partial frame was left over. The file has
                already been finalized with every complete frame (and closed,
                if owned); the error says how many bytes were dropped.
            OSError: the file cannot be written.
        """
        if self._closed:
            return
        self._closed = True
        dropped = len(self._pending)
        self._pending = b""
        try:
            self._write_sizes()
        finally:
            if self._close_file:
                self._file.close()
        if dropped:
            raise AudioFormatError(
                f"dropped {dropped} trailing byte(s) at close: not a whole frame "
                f"({self._block_align} bytes per frame); the file holds "
                f"{self.frames_written} complete frames"
            )

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the writer; a dropped partial frame does not mask another exception."""
        if exc is None:
            self.close()
            return
        with contextlib.suppress(AudioFormatError):
            self.close()

    def __repr__(self) -> str:
        where = str(self._path) if self._path is not None else "file object"
        state = "closed" if self._closed else "open"
        return (
            f"<WavWriter {where} {_describe(self._rate, self._channels, SAMPLE_WIDTH)} "
            f"{self.frames_written} frames {state}>"
        )


# -- reading ------------------------------------------------------------------


def _convert_hint(name: str | None) -> str:
    src = shlex.quote(name) if name else "in.wav"
    return (
        f"convert it to 16-bit mono pcm with: ffmpeg -i {src} -ac 1 -ar {INPUT_RATE} "
        f"-sample_fmt s16 out.wav (or: sox {src} -c 1 -b 16 -r {INPUT_RATE} out.wav)"
    )


def _open_checked(source: str | os.PathLike[str] | BinaryIO) -> wave.Wave_read:
    """Open ``source`` with :mod:`wave` and check it is 16-bit mono PCM."""
    name: str | None = None
    opened: str | BinaryIO
    if isinstance(source, (str, os.PathLike)):
        opened = name = os.fspath(source)
    else:
        opened = source
    label = name if name is not None else "input"
    try:
        reader = wave.open(opened, "rb")  # noqa: SIM115 - the caller closes it
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(
            f"{label} is not a pcm wav file ({exc or 'truncated header'}); {_convert_hint(name)}"
        ) from exc
    channels = reader.getnchannels()
    width = reader.getsampwidth()
    rate = reader.getframerate()
    if channels != 1 or width != SAMPLE_WIDTH or rate <= 0:
        reader.close()
        raise AudioFormatError(
            f"{label} holds {_describe(rate, channels, width)} audio, the live api takes "
            f"16-bit mono; {_convert_hint(name)}"
        )
    return reader


def read_wav_chunks(
    source: str | os.PathLike[str] | BinaryIO, *, chunk_ms: float = 100
) -> Generator[AudioChunk, None, None]:
    """Yield a 16-bit mono WAV file as PCM chunks of ``chunk_ms`` milliseconds.

    Every chunk holds ``max(1, round(rate * chunk_ms / 1000))`` frames except
    the last, which holds what is left (never zero frames). The file is
    opened when iteration starts and closed when it ends or the iterator is
    closed; a file object passed in is left open.

    Args:
        source: a path or a readable binary file object.
        chunk_ms: the duration of each chunk in milliseconds. The Live API
            docs recommend 20 to 100 ms for input audio.

    Returns:
        A generator of :class:`~rawlive.audio.pcm.AudioChunk` with MIME type
        ``audio/pcm;rate=N`` for the file's rate. Call its ``close()`` to
        release the file early.

    Raises:
        ConfigurationError: ``chunk_ms`` is not a positive finite number
            (raised at once, before iteration; it is a ``ValueError``).
        AudioFormatError: when iteration starts, if the file is not a WAV or
            is not 16-bit mono PCM; the message says how to convert it.
        OSError: the file cannot be read.
    """
    if not (math.isfinite(chunk_ms) and chunk_ms > 0):
        raise ConfigurationError(f"chunk_ms must be a positive number, got {chunk_ms!r}")
    return _iter_chunks(source, chunk_ms)


def _iter_chunks(
    source: str | os.PathLike[str] | BinaryIO, chunk_ms: float
) -> Generator[AudioChunk, None, None]:
    with _open_checked(source) as reader:
        rate = reader.getframerate()
        mime = pcm_mime(rate)
        frames = max(1, round(rate * chunk_ms / 1000))
        while data := reader.readframes(frames):
            if len(data) & 1:
                # A data chunk cut mid-sample (truncated file): drop the half sample.
                data = data[:-1]
                if not data:
                    break
            yield AudioChunk(data=data, mime_type=mime)


def read_wav(source: str | os.PathLike[str] | BinaryIO) -> tuple[bytes, int]:
    """Read a whole 16-bit mono WAV file.

    Args:
        source: a path or a readable binary file object (left open).

    Returns:
        ``(pcm, rate)``: all the PCM bytes (even length) and the rate in Hz.

    Raises:
        AudioFormatError: the file is not a WAV or is not 16-bit mono PCM; the
            message says how to convert it.
        OSError: the file cannot be read.
    """
    with _open_checked(source) as reader:
        rate = reader.getframerate()
        data = reader.readframes(reader.getnframes())
    if len(data) & 1:
        data = data[:-1]
    return data, rate
