"""``rawlive fake``: the bundled fake server on its own, and the CLI resume flow against it."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import run_cli, start_cli

HANDLE = re.compile(r"resume handle: (\S+)")


@pytest.fixture
def fake_cli(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A running ``rawlive fake --port 0`` and its URL (the first line of its stdout)."""
    proc = start_cli("fake", "--port", "0", cwd=tmp_path)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


def test_fake_prints_its_url_first_and_stops_cleanly_on_ctrl_c(
    fake_cli: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    proc, url = fake_cli
    assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/ws/\S+BidiGenerateContent", url)
    said = run_cli("say", "Hello", "--modality", "text", "--server", url, cwd=tmp_path)
    assert said.returncode == 0, said.stderr
    assert said.stdout == "Hello there! How can I help you today?\n"
    code, err = stop(proc)
    assert code == 0
    assert "Traceback" not in err
    assert "stopped after 1 connection(s)" in err


def test_resume_from_the_cli_alone(
    fake_cli: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    _, url = fake_cli
    first = run_cli(
        "chat",
        "Hello",
        "What is the capital of Brazil?",
        "--modality",
        "text",
        "--server",
        url,
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    match = HANDLE.search(first.stderr)
    assert match is not None, first.stderr
    assert "dies with this process" not in first.stderr  # only demo handles die with us
    second = run_cli(
        "say", "what was the last question I asked?", "--modality", "text",
        "--server", url, "--resume", match.group(1),
        cwd=tmp_path,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == (
        'The last question you asked was: "What is the capital of Brazil?"'
    )


def test_a_demo_handle_says_it_dies_with_the_process(tmp_path: Path) -> None:
    result = run_cli("say", "Hello", "--modality", "text", "--server", "demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("resume handle:"))
    assert "dies with this process" in line and "rawlive fake" in line


def test_fake_with_an_api_key_refuses_other_keys(tmp_path: Path) -> None:
    proc = start_cli("fake", "--port", "0", "--api-key", "right-key-123", cwd=tmp_path)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        wrong = run_cli("say", "Hi", "--modality", "text", "--server", url, "--api-key", "wrong",
                        cwd=tmp_path)  # fmt: skip
        assert wrong.returncode == 1
        assert "1008" in wrong.stderr and "Traceback" not in wrong.stderr
        right = run_cli(
            "say", "Hi", "--modality", "text", "--server", url, "--api-key", "right-key-123",
            cwd=tmp_path,
        )  # fmt: skip
        assert right.returncode == 0, right.stderr
        code, err = stop(proc)
        assert code == 0 and "right-key-123" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def test_fake_over_tls_with_ca_file(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    from rawlive.capture.tls import generate_self_signed_cert

    cert = generate_self_signed_cert(tmp_path)
    proc = start_cli(
        "fake", "--port", "0", "--tls-cert", str(cert.cert_file), "--tls-key", str(cert.key_file),
        cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("wss://127.0.0.1:")
        untrusted = run_cli("say", "Hi", "--modality", "text", "--server", url, cwd=tmp_path)
        assert untrusted.returncode == 1 and "Traceback" not in untrusted.stderr
        trusted = run_cli(
            "say", "Hi", "--modality", "text", "--server", url,
            "--ca-file", str(cert.cert_file),
            cwd=tmp_path,
        )  # fmt: skip
        assert trusted.returncode == 0, trusted.stderr
        assert trusted.stdout == "Hello there! How can I help you today?\n"
        assert stop(proc)[0] == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def test_fake_refuses_half_a_tls_pair(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("not checked: the pair is incomplete")
    result = run_cli("fake", "--tls-cert", "c.pem", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "rawlive: error: give both --tls-cert and --tls-key, or neither"


def test_fake_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("fake", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"rawlive: error: cannot listen on 127.0.0.1:{port}: ")
    assert result.stdout == ""  # no URL was printed


def test_fake_in_vertex_mode_serves_the_cli_through_base_url(tmp_path: Path) -> None:
    token = "ya29.cli-fake-vertex-token"
    proc = start_cli(
        "fake", "--port", "0", "--vertex", "--access-token", token, cwd=tmp_path
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent" in url
        base = "http://" + url.split("://", 1)[1].split("/", 1)[0] + "/"
        said = run_cli(
            "say", "Hello", "--modality", "text", "--vertex", "--project", "p",
            "--location", "us-central1", "--access-token", token, "--base-url", base,
            "--model", "rawlive-demo", cwd=tmp_path,
        )  # fmt: skip
        assert said.returncode == 0, said.stderr
        assert said.stdout == "Hello there! How can I help you today?\n"
        assert token not in said.stderr
        code, err = stop(proc)
        assert code == 0 and token not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def test_fake_mints_tokens_for_token_create(tmp_path: Path) -> None:
    key = "AIzaFakeMintKey0123456789"
    proc = start_cli("fake", "--port", "0", "--api-key", key, "--mint-tokens", cwd=tmp_path)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        url = proc.stdout.readline().strip()
        lines = [proc.stderr.readline() for _ in range(2)]
        found = re.search(r"ephemeral tokens at (http://\S+) ", "".join(lines))
        assert found, lines
        minted = run_cli(
            "token", "create", "--base-url", found.group(1), "--api-key", key, cwd=tmp_path
        )
        assert minted.returncode == 0, minted.stderr
        name = minted.stdout.strip()
        assert name.startswith("auth_tokens/")
        base = "http://" + url.split("://", 1)[1].split("/", 1)[0] + "/"
        said = run_cli(
            "say", "Hello", "--modality", "text", "--api-key", name, "--base-url", base,
            "--model", "rawlive-demo", cwd=tmp_path,
        )  # fmt: skip
        assert said.returncode == 0, said.stderr
        assert said.stdout == "Hello there! How can I help you today?\n"
        stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
