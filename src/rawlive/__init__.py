"""rawlive: a hand-written client for the Gemini Live API over raw WebSockets.

Nothing is imported up front: each public name is loaded from its module on
first use (PEP 562 module ``__getattr__``), so ``import rawlive`` and
``import rawlive.closecodes`` (what ``rawlive explain`` needs) cost almost
nothing, and the asyncio client is loaded only by :func:`connect` or
:class:`Session`. ``_EXPORTS`` below says where each public name lives, but for
the message types (``Setup``, ``ServerContent``, ...): those are every name of
``rawlive.protocol.messages.__all__``, looked up there on first use, and so is
``__all__``. The ``TYPE_CHECKING`` imports say the same for type checkers.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not from typing: importing typing costs more than this module
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

# "X as X" re-exports each name to type checkers (mypy --strict, pyright); isort would
# split every one into a statement of its own.
# isort: off
if TYPE_CHECKING:
    from rawlive.client import (
        ConnectOptions as ConnectOptions,
        Session as Session,
        connect as connect,
    )
    from rawlive.engine import (
        FrameObserver as FrameObserver,
        ToolHandler as ToolHandler,
    )
    from rawlive.errors import (
        AudioFormatError as AudioFormatError,
        ConcurrentReadError as ConcurrentReadError,
        ConfigurationError as ConfigurationError,
        ConnectionClosedError as ConnectionClosedError,
        HandleRefusedError as HandleRefusedError,
        LintError as LintError,
        LiveError as LiveError,
        LocalProtocolError as LocalProtocolError,
        MissingAPIKeyError as MissingAPIKeyError,
        QueueFullError as QueueFullError,
        RemoteProtocolError as RemoteProtocolError,
        ReplayMismatchError as ReplayMismatchError,
        ResumptionError as ResumptionError,
        SetupRejectedError as SetupRejectedError,
        SetupTimeoutError as SetupTimeoutError,
        TurnTimeoutError as TurnTimeoutError,
    )
    from rawlive.protocol import (
        decode_client as decode_client,
        decode_json as decode_json,
        decode_server as decode_server,
        encode as encode,
        to_wire as to_wire,
    )
    from rawlive.protocol.messages import *  # noqa: F403  (the message types)
    from rawlive.protocol.session import (
        Turn as Turn,
        UsageTotals as UsageTotals,
    )
    from rawlive.resilience import (
        Reconnected as Reconnected,
        ReconnectPolicy as ReconnectPolicy,
    )
    from rawlive.setup import SetupOptions as SetupOptions
    from rawlive.tokens import (
        EphemeralToken as EphemeralToken,
        create_ephemeral_token as create_ephemeral_token,
    )
    from rawlive.vertex import TargetOptions as TargetOptions
# isort: on

# Public name -> the module that defines it; the message types are not listed here.
_EXPORTS: dict[str, str] = {
    "AudioFormatError": "rawlive.errors",
    "ConcurrentReadError": "rawlive.errors",
    "ConfigurationError": "rawlive.errors",
    "ConnectionClosedError": "rawlive.errors",
    "HandleRefusedError": "rawlive.errors",
    "LintError": "rawlive.errors",
    "LiveError": "rawlive.errors",
    "LocalProtocolError": "rawlive.errors",
    "MissingAPIKeyError": "rawlive.errors",
    "QueueFullError": "rawlive.errors",
    "RemoteProtocolError": "rawlive.errors",
    "ReplayMismatchError": "rawlive.errors",
    "ResumptionError": "rawlive.errors",
    "SetupRejectedError": "rawlive.errors",
    "SetupTimeoutError": "rawlive.errors",
    "TurnTimeoutError": "rawlive.errors",
    "decode_client": "rawlive.protocol",
    "decode_json": "rawlive.protocol",
    "decode_server": "rawlive.protocol",
    "encode": "rawlive.protocol",
    "to_wire": "rawlive.protocol",
    "Turn": "rawlive.protocol.session",
    "UsageTotals": "rawlive.protocol.session",
    "ReconnectPolicy": "rawlive.resilience",
    "Reconnected": "rawlive.resilience",
    "FrameObserver": "rawlive.engine",
    "ToolHandler": "rawlive.engine",
    "Session": "rawlive.client",
    "connect": "rawlive.client",
    "ConnectOptions": "rawlive.client",
    "SetupOptions": "rawlive.setup",
    "TargetOptions": "rawlive.vertex",
    "EphemeralToken": "rawlive.tokens",
    "create_ephemeral_token": "rawlive.tokens",
}


def _message_types() -> list[str]:
    from rawlive.protocol import messages

    return messages.__all__


def __getattr__(name: str) -> Any:
    if name == "__all__":
        value: Any = sorted([*_EXPORTS, *_message_types(), "__version__"])
    else:
        module = _EXPORTS.get(name)
        if module is None:
            if name.startswith("_") or name not in _message_types():
                raise AttributeError(f"module 'rawlive' has no attribute {name!r}")
            module = "rawlive.protocol"
        import importlib

        value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__getattr__("__all__")))
