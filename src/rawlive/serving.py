"""What every server rawlive ships shares: ``start()``/``close()`` as ``async with``.

The fake server, the replay server and the proxy each start listening in
``start()`` and stop in ``close()``; this base turns that pair into an async
context manager, so the three cannot drift apart.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

__all__ = ["Serving"]

_S = TypeVar("_S", bound="Serving")


class Serving:
    """Base of a server used as ``async with server: ...`` (start on entry, close on exit)."""

    async def start(self) -> Any:
        """Start listening (overridden)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stop listening and release everything (overridden)."""
        raise NotImplementedError

    async def __aenter__(self: _S) -> _S:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
