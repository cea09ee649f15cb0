"""Credentials, endpoints and model names."""

from __future__ import annotations

from pathlib import Path

import pytest

from rawlive.auth import (
    check_endpoint,
    live_url,
    normalize_model,
    redact_url,
    resolve_credentials,
)
from rawlive.errors import ConfigurationError, MissingAPIKeyError

KEY = "AIzaSyTESTKEY-do-not-leak-123"


def test_explicit_key_wins(tmp_path: Path) -> None:
    creds = resolve_credentials(KEY, environ={"GEMINI_API_KEY": "other"})
    assert creds.secret == KEY
    assert KEY not in repr(creds) and KEY not in str(creds)


def test_environment_order() -> None:
    env = {"GOOGLE_API_KEY": "g", "GEMINI_API_KEY": "m"}
    assert resolve_credentials(environ=env).secret == "m"
    assert resolve_credentials(environ={"GOOGLE_API_KEY": "g"}).source == "$GOOGLE_API_KEY"


def test_env_file_in_a_parent_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(f"GEMINI_API_KEY={KEY}\n")
    notebook = tmp_path / "notebooks"
    notebook.mkdir()
    monkeypatch.chdir(notebook)  # the seed keeps .env one folder up
    creds = resolve_credentials(environ={})
    assert creds.secret == KEY
    assert str(tmp_path / ".env") in creds.source


def test_explicit_env_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text(f"GOOGLE_API_KEY={KEY}\n")
    assert resolve_credentials(env_file=path, environ={}).secret == KEY


def test_missing_key_names_every_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingAPIKeyError) as info:
        resolve_credentials(environ={}, env_file=tmp_path / "nope.env")
    text = str(info.value)
    assert "$GEMINI_API_KEY" in text and "$GOOGLE_API_KEY" in text
    assert "nope.env" in text
    assert "--server demo" in text
    assert info.value.searched[:2] == ("$GEMINI_API_KEY", "$GOOGLE_API_KEY")


def test_ephemeral_token_switches_endpoint_and_header() -> None:
    creds = resolve_credentials("auth_tokens/abc", environ={})
    assert creds.ephemeral
    assert creds.headers() == {"Authorization": "Token auth_tokens/abc"}
    assert live_url(ephemeral=True).endswith(
        "v1alpha.GenerativeService.BidiGenerateContentConstrained"
    )
    assert resolve_credentials(KEY, environ={}).headers() == {"x-goog-api-key": KEY}


def test_urls() -> None:
    assert live_url() == (
        "wss://generativelanguage.googleapis.com/ws/"
        "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    )
    assert "//ws" not in live_url().replace("wss://", "")
    assert ".v1alpha." in live_url(api_version="v1alpha")
    with pytest.raises(ConfigurationError, match="v1beta"):
        live_url(api_version="v1")


def test_model_names() -> None:
    assert normalize_model("gemini-2.0-flash-live-001") == "models/gemini-2.0-flash-live-001"
    assert normalize_model("models/x") == "models/x"
    vertex = "projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash"
    assert normalize_model(vertex) == vertex
    assert normalize_model("tunedModels/t") == "tunedModels/t"
    with pytest.raises(ConfigurationError):
        normalize_model("  ")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("wss://example.com/ws", True),
        ("ws://127.0.0.1:8080/ws", True),
        ("ws://localhost/ws", True),
        ("ws://[::1]:9/ws", True),
        ("ws://example.com/ws", False),
        ("ws://10.0.0.2/ws", False),
        ("http://example.com", False),
    ],
)
def test_insecure_endpoints_are_refused(url: str, ok: bool) -> None:
    if ok:
        assert check_endpoint(url) == url
    else:
        with pytest.raises(ConfigurationError):
            check_endpoint(url)
    assert check_endpoint("ws://example.com/ws", allow_insecure=True)


def test_redact_url() -> None:
    url = f"wss://h/ws?key={KEY}&alt=json&access_token=auth_tokens/x"
    shown = redact_url(url)
    assert KEY not in shown and "auth_tokens/x" not in shown
    assert "alt=json" in shown
