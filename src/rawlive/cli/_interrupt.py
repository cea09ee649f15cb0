"""Serving commands stop on Ctrl-C (or SIGTERM) cleanly: exit status 0, no traceback."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def until_interrupted() -> None:
    """Wait for SIGINT or SIGTERM and return normally.

    Where signal handlers cannot be installed (Windows), this waits forever
    and Ctrl-C interrupts the program the usual way.
    """
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()

    def done() -> None:
        if not stop.done():
            stop.set_result(None)

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, done)
        except (NotImplementedError, RuntimeError):
            continue
        installed.append(signum)
    try:
        await stop
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def serve_until_interrupted(server: Awaitable[T]) -> None:
    """Run ``server`` (a coroutine that serves forever) until Ctrl-C; re-raise its errors."""
    serving = asyncio.ensure_future(server)
    waiting = asyncio.ensure_future(until_interrupted())
    try:
        await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()  # it stopped by itself: its error, if any
    finally:
        for task in (serving, waiting):
            task.cancel()
        await asyncio.gather(serving, waiting, return_exceptions=True)
