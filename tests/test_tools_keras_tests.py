"""tools/keras_tests.py: extraction from a local mirror and the table's counts.

The two pytest runs themselves take minutes; these checks build a tiny git
repository instead of Keras' and feed `report` results written by hand.
"""

import importlib.util
import json
import pathlib
import shutil
import subprocess

import pytest

TOOL = pathlib.Path(__file__).resolve().parents[1] / "tools" / "keras_tests.py"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("keras_tests_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def mirror(tmp_path):
    repo = tmp_path / "keras"
    files = {
        "conftest.py": "def skip_if_backend(name, reason):\n    pass\n",
        "pyproject.toml": "[tool.pytest.ini_options]\n",
        "keras/src/trainers/trainer_test.py": "import jax\nimport numpy\n",
        "keras/src/callbacks/early_stopping_test.py": "x = 1\n",
        "keras/src/callbacks/early_stopping.py": "y = 2\n",
    }
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)

    def git(*args):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "tests")
    git("tag", "v0.1")
    return repo


def test_extract_writes_test_files_and_support_files(tool, mirror, tmp_path):
    workdir = tmp_path / "work"
    tool.extract(mirror, "v0.1", workdir)
    assert (workdir / "keras/src/callbacks/early_stopping_test.py").read_text() == (
        "x = 1\n"
    )
    assert not (workdir / "keras/src/callbacks/early_stopping.py").exists()
    assert (workdir / "conftest.py").exists()
    assert (workdir / "pyproject.toml").exists()


def test_extract_replaces_jax_import_when_jax_is_missing(
    tool, mirror, tmp_path, monkeypatch
):
    monkeypatch.setattr(tool.importlib.util, "find_spec", lambda name: None)
    notes = tool.extract(mirror, "v0.1", tmp_path / "work")
    text = (tmp_path / "work/keras/src/trainers/trainer_test.py").read_text()
    assert text.splitlines()[0].startswith("jax = None")
    assert "import numpy" in text
    assert notes == [
        "keras/src/trainers/trainer_test.py: top-level `import jax` -> `jax = None`"
    ]


def test_extract_refuses_missing_mirror(tool, tmp_path):
    with pytest.raises(tool.ToolError, match="`mirror` must be a local git clone"):
        tool.extract(tmp_path / "absent", "v0.1", tmp_path / "work")


def test_extract_refuses_unknown_tag(tool, mirror, tmp_path):
    with pytest.raises(tool.ToolError, match=r"Received: tag='v9\.9'"):
        tool.extract(mirror, "v9.9", tmp_path / "work")


def test_extract_refuses_workdir_inside_the_repository(tool, mirror):
    with pytest.raises(tool.ToolError, match="`workdir` must lie outside"):
        tool.extract(mirror, "v0.1", tool.REPO / "keras_tests_work")
    assert not (tool.REPO / "keras_tests_work").exists()


def _result(outcome, reached=False, trainer=False, reason=""):
    return {
        "outcome": outcome,
        "reached": reached,
        "reached_trainer": trainer,
        "reason": reason,
        "phase": "call",
    }


def test_report_counts_only_tests_passing_under_keras_that_reach_fit(
    tool, tmp_path, capsys
):
    plain = {
        "a": _result("passed", reached=True),
        "b": _result("passed", reached=True),
        "c": _result("failed", reached=True, reason="ImportError: no orbax [x]"),
        "d": _result("passed", trainer=True),
        "e": _result("passed"),
    }
    routed = {
        "a": _result("passed", reached=True),
        "b": _result("failed", reached=True, reason="ValueError: no loss [y]"),
        "c": _result("failed", reached=True),
        "d": _result("passed", trainer=True),
        "e": _result("passed"),
    }
    for mode, tests in (("plain", plain), ("routed", routed)):
        data = {"files": ["t.py"], "seconds": 1.0, "collection_errors": []}
        data["tests"] = tests
        (tmp_path / f"results-{mode}.json").write_text(json.dumps(data))
    numbers = tool.report(tmp_path, "v0.1", [])
    assert numbers == {"model_fit": 2, "passing": 1, "failing": ["b"]}
    out = capsys.readouterr().out
    assert "failed: ValueError: no loss [y]" in out
    assert "1 x ImportError: no orbax" in out
    assert "another 1 reach only the fit of a Trainer" in out


def test_report_without_results_says_to_run(tool, tmp_path):
    with pytest.raises(tool.ToolError, match="No results of the plain run"):
        tool.report(tmp_path, "v0.1", [])
