"""Shared helpers for the benchmark scripts in this folder.

Every benchmark reports *ratios* against a baseline measured in the same run,
because the machines these run on are small and shared: an absolute figure
from one run says little about the next. The helpers here:

* make the frames the service streams (40 ms of 24 kHz PCM per frame, base64
  in ``inlineData``) and the frames that end a turn;
* make a throw-away CA and a leaf certificate for 127.0.0.1 (with the
  ``cryptography`` package), so wss:// can be measured on loopback;
* run a loopback Live server in a *separate process* (``python
  _bench_common.py serve``), so a client's CPU time is measured alone;
* time CPU (``time.process_time``), read peak RSS (``getrusage``), and print
  min/median tables and the ``RATIO`` lines the smoke test looks for.

The loopback server answers any path. It reads the first frame (setup),
sends ``setupComplete``, then for every client frame it receives it streams
one turn: ``seconds`` of audio in 40 ms binary frames, a ``generationComplete``
frame and a ``turnComplete`` frame bundled with ``usageMetadata``. The query
string may override ``seconds`` (``ws://host:port/ws?seconds=1800``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import ipaddress
import json
import os
import random
import resource
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent

RATE = 24000
CHUNK_MS = 40
CHUNK_BYTES = RATE * 2 * CHUNK_MS // 1000  # 1920 bytes of 16-bit mono PCM
MIME = "audio/pcm;rate=24000"
SETUP_COMPLETE = b'{"setupComplete":{}}'
GENERATION_COMPLETE = b'{"serverContent":{"generationComplete":true}}'
TURN_COMPLETE = (
    b'{"serverContent":{"turnComplete":true},"usageMetadata":{"promptTokenCount":12,'
    b'"responseTokenCount":1500,"totalTokenCount":1512,"responseTokensDetails":'
    b'[{"modality":"AUDIO","tokenCount":1500}]}}'
)


def ensure_rawlive() -> None:
    """Make ``import rawlive`` work: the installed package, else ``src/``."""
    try:
        import rawlive  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(ROOT / "src"))


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: ``src/`` importable, plus ``extra``."""
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


# ------------------------------------------------------------------ frames


def pcm_chunks(seconds: float, *, seed: int = 0) -> list[bytes]:
    """Return ``seconds`` of pseudo-random 16-bit PCM in 40 ms chunks."""
    count = max(1, round(seconds * 1000 / CHUNK_MS))
    rng = random.Random(seed)
    return [rng.randbytes(CHUNK_BYTES) for _ in range(count)]


def audio_frame(pcm: bytes) -> bytes:
    """One model-turn audio frame as the service sends it (compact JSON bytes)."""
    b64 = base64.b64encode(pcm).decode("ascii")
    return (
        b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"'
        + MIME.encode()
        + b'","data":"'
        + b64.encode()
        + b'"}}]}}}'
    )


def audio_frames(seconds: float, *, seed: int = 0) -> list[bytes]:
    """Return the audio frames of ``seconds`` of reply, 40 ms each."""
    return [audio_frame(c) for c in pcm_chunks(seconds, seed=seed)]


def frames_for(seconds: float) -> int:
    """How many 40 ms frames ``seconds`` of audio takes."""
    return max(1, round(seconds * 1000 / CHUNK_MS))


# ------------------------------------------------------------ certificates


@dataclass(frozen=True)
class Certs:
    """A throw-away CA and a leaf for 127.0.0.1/localhost, as PEM files."""

    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


def have_cryptography() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


def make_certs(folder: Path) -> Certs:
    """Write a CA and a leaf certificate for 127.0.0.1 into ``folder``.

    A CA plus a leaf (rather than one self-signed leaf) is what every TLS
    client accepts through ``SSL_CERT_FILE``/``cafile``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=7)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rawlive bench CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    folder.mkdir(parents=True, exist_ok=True)
    certs = Certs(ca=folder / "ca.pem", cert=folder / "leaf.pem", key=folder / "leaf.key")
    certs.ca.write_bytes(ca_cert.public_bytes(pem))
    certs.cert.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    certs.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certs


# ------------------------------------------------------------------ server


class ServerProcess:
    """The loopback Live server, running in its own process.

    Use as a context manager; ``ws_url``/``wss_url`` are set once it listens
    (``wss_url`` is None without certificates).
    """

    def __init__(self, *, seconds: float, certs: Certs | None = None, distinct: int = 250) -> None:
        self._args = [
            sys.executable,
            str(Path(__file__).resolve()),
            "serve",
            "--seconds",
            str(seconds),
            "--distinct",
            str(distinct),
        ]
        if certs is not None:
            self._args += ["--cert", str(certs.cert), "--key", str(certs.key)]
        self._proc: subprocess.Popen[bytes] | None = None
        self.ws_url = ""
        self.wss_url: str | None = None

    def __enter__(self) -> ServerProcess:
        self._proc = subprocess.Popen(
            self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env()
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the loopback server did not start")
        ports = json.loads(line)
        self.ws_url = f"ws://127.0.0.1:{ports['ws']}"
        if ports.get("wss"):
            self.wss_url = f"wss://127.0.0.1:{ports['wss']}"
        return self

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()  # the server exits when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serve_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="_bench_common.py serve")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--distinct", type=int, default=250)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.seconds, args.distinct, args.cert, args.key))


async def _serve(seconds: float, distinct: int, cert: str | None, key: str | None) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    # A pool of distinct frames, cycled: a 30-minute reply costs the server no
    # more memory than a short one.
    pool = audio_frames(min(seconds, distinct * CHUNK_MS / 1000), seed=1)

    async def handler(ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        turn_seconds = float(query.get("seconds", [seconds])[0])
        count = frames_for(turn_seconds)
        try:
            await ws.recv()  # setup
            await ws.send(SETUP_COMPLETE)
            async for _ in ws:  # one turn per client frame
                n = len(pool)
                for i in range(count):
                    await ws.send(pool[i % n])
                await ws.send(GENERATION_COMPLETE)
                await ws.send(TURN_COMPLETE)
        except Exception:  # a client going away mid-turn is normal here
            pass

    # No permessage-deflate: every client gets the same uncompressed frames
    # (the SDK would otherwise negotiate it and pay for inflating).
    options: dict[str, Any] = {"compression": None, "max_size": None, "ping_interval": None}
    async with AsyncExitStack() as stack:
        plain = await stack.enter_async_context(serve(handler, "127.0.0.1", 0, **options))
        ports = {"ws": plain.sockets[0].getsockname()[1], "wss": None}
        if cert and key:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cert, key)
            secure = await stack.enter_async_context(
                serve(handler, "127.0.0.1", 0, ssl=ctx, **options)
            )
            ports["wss"] = secure.sockets[0].getsockname()[1]
        print(json.dumps(ports), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.buffer.read)  # until the parent closes it


# ------------------------------------------------------------------ timing


def cpu_seconds() -> float:
    """CPU seconds of this process (user + system, all threads)."""
    return time.process_time()


def rusage_cpu() -> tuple[float, float]:
    """(user, system) CPU seconds of this process from ``getrusage``."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def instructions_of(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 900
) -> int:
    """Instructions ``python ARGS`` executes, counted by valgrind's cachegrind.

    Counted, not timed: the figure does not depend on what else the machine
    runs. Callers subtract a smaller run from a larger one, so start-up cancels.
    """
    import re

    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    done = subprocess.run(
        [*cmd, sys.executable, *args],
        capture_output=True,
        text=True,
        env=child_env() if env is None else env,
        check=True,
        timeout=timeout,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{done.stderr}")
    return int(found.group(1).replace(",", ""))


def floor_ws_options() -> dict[str, object]:
    """Options that keep a floor's bare websockets client as lean as rawlive's.

    websockets 15+ reads proxy settings from the environment on every connect
    unless told ``proxy=None`` (about 0.2 ms); rawlive passes it, so the floor
    does too, or the floor would carry work rawlive does not.
    """
    from websockets.version import version

    return {"proxy": None} if int(version.split(".")[0]) >= 15 else {}


async def floor_turn(ws: Any, keep: Callable[[bytes], object]) -> None:
    """Receive one turn the floor's way: the bare loop every floor client runs.

    Each frame is ``orjson.loads``-ed; each ``inlineData`` of a model turn is
    ``base64.b64decode``-d into ``keep``; ``turnComplete`` ends the turn. No
    records, no objects: what rawlive is measured against.
    """
    import orjson

    loads, b64decode = orjson.loads, base64.b64decode
    while True:
        msg = loads(await ws.recv(decode=False))
        sc = msg.get("serverContent")
        if sc is None:
            continue
        mt = sc.get("modelTurn")
        if mt is not None:
            for part in mt["parts"]:
                blob = part.get("inlineData")
                if blob is not None:
                    keep(b64decode(blob["data"]))
        if sc.get("turnComplete"):
            return


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (``ru_maxrss`` is KiB on Linux)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / (1024 * 1024)


def current_rss_mb() -> float:
    """Current resident set size in MiB (from /proc; falls back to the peak)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


@contextmanager
def cpu_timer(out: list[float]) -> Iterator[None]:
    """Append the CPU seconds spent in the block to ``out``."""
    t0 = time.process_time()
    try:
        yield
    finally:
        out.append(time.process_time() - t0)


# ----------------------------------------------------------------- results


@dataclass
class Series:
    """Repeated measurements of one thing."""

    name: str
    values: list[float] = field(default_factory=list)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)


def paired_ratios(numerator: Series, denominator: Series) -> list[float]:
    """Ratios of the i-th measurements (taken back to back, so noise mostly cancels)."""
    return [a / b for a, b in zip(numerator.values, denominator.values, strict=True) if b > 0]


def ratio_line(
    label: str,
    numerator: Series,
    denominator: Series,
    *,
    target: float | None = None,
    higher: bool = False,
) -> str:
    """Format one ``RATIO`` line comparing two interleaved series.

    ``min`` is the ratio of the best runs (best-of-n, the least disturbed
    estimate); ``median`` is the median of the per-round ratios (each round's
    two runs ran back to back). The verdict uses the median. ``higher=True``
    means the target is a floor (e.g. "at least 3x less CPU"), otherwise a
    ceiling.
    """
    ratios = paired_ratios(numerator, denominator)
    if not ratios or denominator.min <= 0:
        # A floor of zero or less (RSS counters are cached per CPU, so a few
        # pages of noise can make a tiny run's growth negative) gives no ratio.
        return f"RATIO {label}: no ratio, the floor measured {denominator.min:.3f} (too small)"
    best = numerator.min / denominator.min
    med = statistics.median(ratios)
    text = f"RATIO {label}: min {best:.2f}x  median {med:.2f}x  (n={len(numerator.values)})"
    if target is not None:
        ok = med >= target if higher else med <= target
        sign = ">=" if higher else "<="
        text += f"  target {sign} {target:.2f}x: {'MET' if ok else 'MISSED'}"
    return text


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a plain, aligned text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        pairs = enumerate(zip(row, widths, strict=True))
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def machine_line() -> str:
    """One line describing where the figures come from."""
    import platform

    return (
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cpu(s), load avg {os.getloadavg()[0]:.2f}"
    )


def run_json(
    args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 600
) -> Any:
    """Run a child Python process and parse the JSON object on its last stdout line."""
    done = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        env=env or child_env(),
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"child {args} failed with {done.returncode}:\n{done.stderr.decode(errors='replace')}"
        )
    lines = [ln for ln in done.stdout.decode().splitlines() if ln.strip()]
    return json.loads(lines[-1])


def best_of(fn: Callable[[], float], n: int) -> float:
    """The smallest of ``n`` calls of ``fn`` (a timing function)."""
    return min(fn() for _ in range(n))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        _serve_main(sys.argv[2:])
    else:
        print("usage: _bench_common.py serve [--seconds S] [--cert PEM --key PEM]")
        sys.exit(2)
