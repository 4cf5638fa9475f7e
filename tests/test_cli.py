"""Tests of the `tfxfer` command line (base commands)."""

import subprocess
import sys

import pytest

import tfxfer
from tfxfer import cli


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tfxfer {tfxfer.__version__}"


def test_cli_info_lists_versions(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("python", "tensorflow", "keras", "gensim", "devices"):
        assert key in out
    assert "CPU" in out


def test_cli_without_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "usage: tfxfer" in capsys.readouterr().out


def test_cli_unknown_command_fails(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "tfxfer.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"tfxfer {tfxfer.__version__}"
