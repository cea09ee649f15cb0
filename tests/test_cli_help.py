"""``--help`` of every subcommand, and shell completion generated from the same parser."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from rawlive.cli import COMMANDS, build_parser, main
from rawlive.cli.completion import completion_script


def help_of(command: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    return out.getvalue()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_describes_its_positionals_and_gives_an_example(command: str) -> None:
    text = help_of(command)
    assert "example" in text  # "example:" or "examples:" in the epilog
    assert f"rawlive {command}" in text.split("example", 1)[1]  # a real command line
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for action in sub.choices[command]._actions:  # type: ignore[index]
        if not action.option_strings:
            assert action.help, f"{command}: positional {action.dest} has no help"


def test_top_level_help_lists_every_subcommand() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["--help"])
    for command in COMMANDS:
        assert command in out.getvalue()


def test_completion_prints_a_script_for_each_shell() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["completion", "bash"]) == 0
    assert out.getvalue() == completion_script(build_parser(), "bash")


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_parses_and_completes(tmp_path: Path) -> None:
    script = tmp_path / "rawlive.bash"
    script.write_text(completion_script(build_parser(), "bash"))
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)

    def complete(*words: str) -> list[str]:
        quoted = " ".join(f"'{w}'" for w in words)
        probe = (
            f"source '{script}'\n"
            f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
            '_rawlive; printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        result = subprocess.run(
            ["bash", "--norc", "-c", probe], capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert complete("rawlive", "s") == ["say", "serve", "show"]
    assert complete("rawlive", "say", "--moda") == ["--modality"]
    assert complete("rawlive", "say", "--modality", "") == ["audio", "text"]
    assert complete("rawlive", "completion", "") == ["bash", "zsh", "fish"]
    assert "--tls-cert" in complete("rawlive", "fake", "--")
    assert "--input-audio" in complete("rawlive", "say", "--")


def test_zsh_and_fish_scripts_name_every_command_and_flag() -> None:
    parser = build_parser()
    zsh = completion_script(parser, "zsh")
    fish = completion_script(parser, "fish")
    assert zsh.startswith("#compdef rawlive\n") and "compdef _rawlive rawlive" in zsh
    for command in COMMANDS:
        assert f"'{command}:" in zsh and f"        {command})" in zsh
        assert f"-a {command} -d" in fish
        assert f"'__fish_seen_subcommand_from {command}'" in fish
    assert "'--modality[" in zsh and ":modality:(audio text)'" in zsh
    assert "-l modality -x -a 'audio text'" in fish
    assert "-l audio -r -F" in fish  # a file name


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_accept_their_scripts_when_installed(shell: str, tmp_path: Path) -> None:
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip(f"{shell} is not installed")
    script = tmp_path / f"rawlive.{shell}"
    script.write_text(completion_script(build_parser(), shell))
    check = [exe, "-n", str(script)] if shell == "zsh" else [exe, "--no-execute", str(script)]
    subprocess.run(check, check=True, timeout=30)
