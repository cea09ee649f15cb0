"""rawlive.serving: what every shipped server shares, here the URL a client is given."""

from __future__ import annotations

import pytest

import rawlive
from rawlive.proxy import LiveProxy
from rawlive.serving import server_url
from rawlive.testing import FakeLiveServer


@pytest.mark.parametrize(
    ("host", "tls", "http", "path", "url"),
    [
        ("127.0.0.1", False, False, "", "ws://127.0.0.1:8765"),
        ("0.0.0.0", True, False, "/ws/x", "wss://127.0.0.1:8765/ws/x"),
        ("", False, True, "/", "http://127.0.0.1:8765/"),
        ("::", True, True, "/", "https://[::1]:8765/"),
        ("::0", False, False, "", "ws://[::1]:8765"),
        ("0:0:0:0:0:0:0:0", False, False, "", "ws://[::1]:8765"),
        ("::1", False, False, "", "ws://[::1]:8765"),
        ("example.test", False, False, "", "ws://example.test:8765"),
    ],
)
def test_a_wildcard_bind_address_is_given_to_clients_as_loopback(
    host: str, tls: bool, http: bool, path: str, url: str
) -> None:
    assert server_url(host, 8765, tls=tls, http=http, path=path) == url


async def test_every_server_bound_to_all_interfaces_gives_a_url_a_client_can_use() -> None:
    # The fake, the proxy and the replay server once disagreed: only replay
    # turned 0.0.0.0 into a loopback address. Each now builds it with server_url.
    async with FakeLiveServer(host="0.0.0.0") as fake:
        assert fake.url.startswith(f"ws://127.0.0.1:{fake.port}/ws/")
        assert fake.base_url == f"http://127.0.0.1:{fake.port}/"
        async with rawlive.connect("m", endpoint=fake.url, response_modalities=["TEXT"]) as s:
            await s.send_text("Hello")
            assert (await s.receive_turn(timeout=5)).text
        async with LiveProxy(upstream=fake.url.split("/ws/")[0], host="0.0.0.0") as proxy:
            assert proxy.url == f"ws://127.0.0.1:{proxy.port}"
            assert proxy.base_url == f"http://127.0.0.1:{proxy.port}/"
