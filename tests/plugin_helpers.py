"""Shared pieces of the pytest plugin's tests (test_pytest_plugin*.py).

Test modules load it with ``pytest_plugins``, which makes its fixtures theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rawlive.testing.background import BackgroundFakeServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SECRET = "recording-key-5c1d9e"


def plugin_args(request: pytest.FixtureRequest, *, asyncio: bool = False) -> list[str]:
    # Generated tests need no hypothesis (its plugin costs a second per run),
    # and pytest-asyncio only where they say so; once the pytest11 entry
    # point is installed, the rawlive plugin loads by itself.
    args = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:randomly"]
    if not asyncio:
        args += ["-p", "no:asyncio"]
    if not request.config.pluginmanager.has_plugin("rawlive"):
        args += ["-p", "rawlive.pytest_plugin"]
    return args


@pytest.fixture(scope="session")
def cryptography_loaded(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Import cryptography in this process before any pytester run uses it.

    An in-process pytester run removes the modules imported since its
    fixture was set up; cryptography's Rust core cannot be imported twice, so
    a second run would get classes that its extension no longer recognises.
    A session fixture is set up before pytester takes its snapshot.
    """
    pytest.importorskip("cryptography", reason="the test certificate needs cryptography")
    from rawlive.capture.tls import generate_self_signed_cert

    generate_self_signed_cert(tmp_path_factory.mktemp("preload")).client_context()


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "RAWLIVE_RECORD_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_endpoint() -> Iterator[str]:
    with BackgroundFakeServer() as fake:
        yield fake.server.url
