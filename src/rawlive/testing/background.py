"""The fake server on its own event loop in a daemon thread.

:class:`BackgroundServer` (defined in :mod:`rawlive.serving`, which says why a
private loop) runs any server so; :class:`BackgroundFakeServer` runs the fake.
The server object is created on its own loop, so everything it makes at
construction (events, locks) belongs to that loop. Its coroutine methods
(``go_away``, ``wait_idle``) are called through :meth:`BackgroundFakeServer.call`.
"""

from __future__ import annotations

from typing import Any

from rawlive.serving import BackgroundServer
from rawlive.testing.fake_server import FakeLiveServer

__all__ = ["BackgroundFakeServer", "BackgroundServer"]


class BackgroundFakeServer(BackgroundServer[FakeLiveServer]):
    """A :class:`FakeLiveServer` on a private loop.

    Args:
        options: keyword arguments for :class:`FakeLiveServer` (``port`` 0 by
            default, so parallel workers never clash).
    """

    def __init__(self, **options: Any) -> None:
        async def begin() -> FakeLiveServer:
            return await FakeLiveServer(**options).start()

        super().__init__(begin)
