"""Vertex AI endpoints, model names and access tokens (pure: no network)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from rawlive.errors import ConfigurationError, VertexAuthError
from rawlive.vertex import (
    AccessTokenSource,
    apply_base_url,
    find_access_token,
    vertex_host,
    vertex_live_url,
    vertex_model_name,
)

PATH = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("us-central1", "us-central1-aiplatform.googleapis.com"),
        ("europe-west4", "europe-west4-aiplatform.googleapis.com"),
        ("global", "aiplatform.googleapis.com"),
        (None, "aiplatform.googleapis.com"),
        ("us", "aiplatform.us.rep.googleapis.com"),
        ("eu", "aiplatform.eu.rep.googleapis.com"),
    ],
)
def test_hosts_as_the_sdk_chooses_them(location: str | None, host: str) -> None:
    assert vertex_host(location) == host
    assert vertex_live_url(location) == f"wss://{host}{PATH}"


def test_api_version_and_express_mode() -> None:
    assert vertex_live_url("us-central1", api_version="v1") == (
        "wss://us-central1-aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1."
        "LlmBidiService/BidiGenerateContent"
    )
    assert vertex_live_url("us-central1", express=True) == f"wss://aiplatform.googleapis.com{PATH}"
    with pytest.raises(ConfigurationError, match="v1beta1 or v1"):
        vertex_live_url("us-central1", api_version="v1alpha")


def test_model_names() -> None:
    full = "projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5"
    assert vertex_model_name("gemini-live-2.5", project="p", location="us-central1") == full
    assert vertex_model_name("models/gemini-live-2.5", project="p", location="us-central1") == full
    assert vertex_model_name(full, project="other", location="x") == full
    assert (
        vertex_model_name("gemini-live-2.5", project=None, location=None, express=True)
        == "publishers/google/models/gemini-live-2.5"
    )
    with pytest.raises(ConfigurationError, match="needs a project and location"):
        vertex_model_name("m", project=None, location=None)


def test_base_url_keeps_the_path_and_query() -> None:
    url = f"wss://us-central1-aiplatform.googleapis.com{PATH}"
    assert apply_base_url(url, "ws://127.0.0.1:8765") == f"ws://127.0.0.1:8765{PATH}"
    assert apply_base_url(url, "http://127.0.0.1:8765/") == f"ws://127.0.0.1:8765{PATH}"
    assert apply_base_url(url, "https://gw.example/prefix") == f"wss://gw.example/prefix{PATH}"
    assert apply_base_url(url + "?x=1", "ws://h:1") == f"ws://h:1{PATH}?x=1"
    assert apply_base_url(url, None) == url
    for bad in ("ftp://h", "ws://", "ws://h:notaport", "ws://h/?key=1"):
        with pytest.raises(ConfigurationError):
            apply_base_url(url, bad)


def fake_run(outputs: list[tuple[int, str, str]]) -> Any:
    calls: list[list[str]] = []

    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        code, out, err = outputs[min(len(calls), len(outputs)) - 1]
        return subprocess.CompletedProcess(args, code, out, err)

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_the_argument_wins() -> None:
    source = find_access_token("ya29.given-token")
    assert source() == "ya29.given-token" and source.kind == "argument"
    assert "ya29" not in repr(source)


def test_gcloud_token_is_refreshed_when_old(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/gcloud")
    run = fake_run([(0, "ya29.first\n", ""), (0, "ya29.second\n", "")])
    now = [1000.0]
    source = find_access_token(run=run, use_adc=False)
    source._clock = lambda: now[0]
    source._fetched = now[0]
    assert source() == "ya29.first"
    now[0] += 10 * 60
    assert source() == "ya29.first"  # still fresh
    now[0] += 40 * 60
    assert source() == "ya29.second"  # refreshed for the next connection
    assert run.calls[0][1:] == ["auth", "print-access-token"]


def test_no_token_anywhere_names_all_three(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json")
    with pytest.raises(VertexAuthError) as info:
        find_access_token()
    text = str(info.value)
    assert "access_token=" in text
    assert "Application Default Credentials" in text
    assert "gcloud" in text


def test_gcloud_failure_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/gcloud")
    run = fake_run([(1, "", "ERROR: (gcloud.auth) You do not currently have an active account.\n")])
    with pytest.raises(VertexAuthError, match="You do not currently have an active account"):
        AccessTokenSource("gcloud", _run=run)()
