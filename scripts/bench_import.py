#!/usr/bin/env python3
"""Import time of ``rawlive`` (and of ``google.genai`` for comparison), in fresh processes.

Usage::

    python scripts/bench_import.py [--quick] [--runs 15] [--top 15]

Each figure is the median over ``--runs`` fresh interpreters of the time of
``python -c "import X"`` minus that of a ``python -c pass`` run next to it
(so interpreter start-up and ``site`` are not counted), as wall time and as
the child's CPU time. The verdict uses CPU time, which waiting for a busy core
does not inflate.
The runs are interleaved (pass, rawlive, genai, pass, ...) so that a noisy
neighbour hits all of them alike. Bytecode is cached (in a private
``PYTHONPYCACHEPREFIX``) as for an installed package, after one warm-up run. Then ``python -X importtime -c "import
rawlive"`` lists the modules with the largest cumulative import time.

``import rawlive`` is lazy (PEP 562): it loads no submodule, so the figure
that matters to an application is ``from rawlive import connect`` (the asyncio
client, websockets, the protocol layer), also measured. ``rawlive explain
1008`` is measured as a whole process against ``python -c pass``.

Targets: ``import rawlive`` under 40 ms; ``rawlive explain 1008`` at most 3x
``python -c pass`` (CPU). The ratio google.genai/rawlive is printed as a
``RATIO`` line.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import Series, child_env, machine_line, print_table, ratio_line

TARGET_MS = 40.0
EXPLAIN_TARGET = 3.0
EXPLAIN = (
    "import sys; sys.argv = ['rawlive', 'explain', '1008']; from rawlive.cli import main; main()"
)


def run_once(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds for one fresh interpreter running ``code``.

    CPU is user + system time of the child (``RUSAGE_CHILDREN``): unlike wall
    time it does not count waiting for a core another process holds.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def importtime_top(code: str, env: dict[str, str], top: int) -> list[tuple[str, int, int]]:
    """(module, self us, cumulative us) of the ``top`` slowest imports of ``code``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|")
        rows.append((name.rstrip(), int(self_us), int(cum_us)))
    rows.sort(key=lambda r: r[2], reverse=True)
    return rows[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per module")
    parser.add_argument("--top", type=int, default=15, help="rows of the -X importtime table")
    parser.add_argument("--no-sdk", action="store_true", help="skip google.genai")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.top, args.no_sdk = 3, 8, True  # the SDK import alone takes ~1 s

    # Installed packages import from .pyc files; with PYTHONDONTWRITEBYTECODE
    # set (as on shared trees) every run would compile the sources instead.
    # Bytecode goes to a private cache directory, never into the tree.
    cache = tempfile.TemporaryDirectory(prefix="bench-import-pycache-")
    env = child_env(PYTHONPYCACHEPREFIX=cache.name)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    sdk = not args.no_sdk and importlib.util.find_spec("google") is not None
    if sdk:
        try:
            sdk = importlib.util.find_spec("google.genai") is not None
        except ModuleNotFoundError:
            sdk = False
    nocache = child_env(PYTHONDONTWRITEBYTECODE="1")
    cases = {
        "pass": ("pass", env),
        "rawlive": ("import rawlive", env),
        "connect": ("from rawlive import connect", env),
        "explain": (EXPLAIN, env),
    }
    if sdk:
        cases["google.genai"] = ("import google.genai", env)
    elif not args.no_sdk:
        print("note: google-genai is not importable; its import time is skipped")
    # For information: a source tree with PYTHONDONTWRITEBYTECODE compiles every time.
    cases["rawlive (no .pyc)"] = ("import rawlive", nocache)
    cases["pass (no .pyc)"] = ("pass", nocache)

    print(f"bench_import: {args.runs} fresh interpreters per case, interleaved; {machine_line()}")
    for code, case_env in cases.values():  # warm the OS file cache and the .pyc cache
        run_once(code, case_env)
    walls = {name: Series(name) for name in cases}
    cpus = {name: Series(name) for name in cases}
    for _ in range(args.runs):
        for name, (code, case_env) in cases.items():
            wall, cpu = run_once(code, case_env)
            walls[name].values.append(wall)
            cpus[name].values.append(cpu)

    def minus(series: dict[str, Series], name: str, base: str) -> Series:
        pairs = zip(series[name].values, series[base].values, strict=True)
        return Series(name, [v - b for v, b in pairs])

    names = [n for n in ("rawlive", "connect", "google.genai", "rawlive (no .pyc)") if n in cases]
    bases = {n: "pass (no .pyc)" if "no .pyc" in n else "pass" for n in names}
    net_wall = {n: minus(walls, n, bases[n]) for n in names}
    net_cpu = {n: minus(cpus, n, bases[n]) for n in names}
    print()
    rows = [
        (
            "python -c pass",
            walls["pass"].min * 1e3,
            walls["pass"].median * 1e3,
            cpus["pass"].median * 1e3,
            "",
        )
    ]
    rows.append(
        (
            "rawlive explain 1008 (whole process)",
            walls["explain"].min * 1e3,
            walls["explain"].median * 1e3,
            cpus["explain"].median * 1e3,
            "",
        )
    )
    for n in names:
        w, c = net_wall[n], net_cpu[n]
        label = "from rawlive import connect" if n == "connect" else f"import {n}"
        rows.append((label, w.min * 1e3, w.median * 1e3, c.median * 1e3, "(minus pass)"))
    print_table(["case", "wall min ms", "wall median ms", "CPU median ms", ""], rows)
    print()
    print(
        "top imports of `from rawlive import connect` (python -X importtime, one run, cumulative us):"
    )
    print_table(
        ["module", "self us", "cumulative us"],
        [
            (name, s, c)
            for name, s, c in importtime_top("from rawlive import connect", env, args.top)
        ],
    )
    print()
    wall_ms = net_wall["rawlive"].median * 1e3
    cpu_ms = net_cpu["rawlive"].median * 1e3
    verdict = "MET" if cpu_ms < TARGET_MS else "MISSED"
    print(
        f"IMPORT rawlive: median {cpu_ms:.1f} ms CPU ({wall_ms:.1f} ms wall) over python -c pass"
        f"  target < {TARGET_MS:.0f} ms: {verdict}"
    )
    explain = statistics.median(
        e / p for e, p in zip(cpus["explain"].values, cpus["pass"].values, strict=True)
    )
    verdict = "MET" if explain <= EXPLAIN_TARGET else "MISSED"
    print(
        f"EXPLAIN rawlive explain 1008: {explain:.2f}x python -c pass (CPU, median of pairs)"
        f"  target <= {EXPLAIN_TARGET:.0f}x: {verdict}"
    )
    print(
        f"CONNECT from rawlive import connect: median {net_cpu['connect'].median * 1e3:.1f} ms CPU"
        " over python -c pass (for information)"
    )
    if "google.genai" in net_cpu:
        print(
            ratio_line(
                "import CPU google.genai/rawlive", net_cpu["google.genai"], net_cpu["rawlive"]
            )
        )
    cache.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
