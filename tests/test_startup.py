"""The `tfxfer` command answers without TensorFlow; TensorFlow starts quietly."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import tfxfer
from tfxfer.utils.startup import filter_startup_lines

# What TensorFlow 2.21 wrote to stderr while it was imported on the CPU-only
# development machine (one line shortened), plus lines it did not write.
BANNER = (
    "WARNING: All log messages before absl::InitializeLog() is called are "
    "written to STDERR\n"
)
ONEDNN = (
    "I0000 00:00:1796128520.712052   29917 port.cc:153] oneDNN custom operations "
    "are on. You may see slightly different numerical results.\n"
)
NO_DRIVER = (
    "I0000 00:00:1796128520.712580   29917 cudart_stub.cc:31] Could not find cuda "
    "drivers on your machine, GPU will not be used.\n"
)
CPU_GUARD = (
    "I0000 00:00:1796128520.800940   29917 cpu_feature_guard.cc:227] This "
    "TensorFlow binary is optimized to use available CPU instructions.\n"
    "To enable the following instructions: AVX2 FMA, in other operations, "
    "rebuild TensorFlow with the appropriate compiler flags.\n"
)
CUINIT = (
    "E0000 00:00:1796128526.643449   29917 cuda_platform.cc:52] failed call to "
    "cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
FACTORY = (
    "E0000 00:00:1731.5   1 cuda_dnn.cc:8310] Unable to register cuDNN factory: "
    "Attempting to register factory for plugin cuDNN when one has already been "
    "registered\n"
)
REAL_WARNING = (
    "W0000 00:00:1796129132.333098   31747 some_op.cc:12] Something the user "
    "should see.\n"
)
STARTUP = BANNER + ONEDNN + NO_DRIVER + CPU_GUARD + FACTORY + BANNER + ONEDNN


def test_filter_drops_startup_noise_and_keeps_real_messages():
    text = STARTUP + CUINIT + REAL_WARNING + "a Python warning\n"
    assert filter_startup_lines(text, 1) == REAL_WARNING + "a Python warning\n"


def test_filter_applies_the_requested_log_level():
    assert filter_startup_lines(ONEDNN + REAL_WARNING, 2) == ""
    assert filter_startup_lines(BANNER + ONEDNN, 0) == ONEDNN
    # The continuation line goes with its message.
    assert filter_startup_lines(CPU_GUARD, 0) == CPU_GUARD
    assert filter_startup_lines(CPU_GUARD + "other\n", 1) == "other\n"
    assert filter_startup_lines(ONEDNN + "other\n", 1) == "other\n"


def test_filter_keeps_a_cuinit_failure_where_drivers_were_found():
    # Without the "Could not find cuda drivers" line, a failing cuInit is a
    # real problem of a GPU machine.
    assert filter_startup_lines(ONEDNN + CUINIT, 1) == CUINIT
    assert filter_startup_lines(NO_DRIVER + CUINIT, 1) == ""


def _run(code, env_updates=None, timeout=240):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(env_updates or {})
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=pathlib.Path(tfxfer.__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_import_replays_what_is_not_startup_noise(tmp_path):
    # A stand-in TensorFlow writes start-up lines and a real warning to file
    # descriptor 2 while it is imported; only the warning reaches stderr.
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        textwrap.dedent(
            f"""
            import os, types
            os.write(2, {(STARTUP + REAL_WARNING).encode()!r})
            config = types.SimpleNamespace(
                list_physical_devices=lambda: os.write(2, {CUINIT.encode()!r})
            )
            """
        )
    )
    result = _run(
        f"""
        import sys
        import _tfxfer_cli
        _tfxfer_cli.DEFER_API = True  # as in the command: the package loads nothing
        from tfxfer.utils import startup
        sys.path.insert(0, {str(tmp_path)!r})
        tf = startup.import_tensorflow()
        print(tf.__file__, startup.os.environ["TF_CPP_MIN_LOG_LEVEL"])
        """
    )
    assert result.stdout.split() == [str(fake / "__init__.py"), "1"]
    assert result.stderr == REAL_WARNING


@pytest.mark.slow
def test_import_tfxfer_hides_tensorflow_startup_lines_not_its_warnings():
    result = _run(
        """
        import tfxfer
        import tensorflow as tf
        # A real TensorFlow warning, from C++: a partly read cache.
        list(tf.data.Dataset.range(10).cache().take(2))
        """
    )
    for noise in ("absl::InitializeLog", "oneDNN", "cudart_stub", "cuInit"):
        assert noise not in result.stderr
    assert "did not fully read the dataset being cached" in result.stderr
    # TF_CPP_MIN_LOG_LEVEL=0 asks for everything, start-up lines included.
    # Which start-up lines TensorFlow prints depends on the CPU (the oneDNN
    # notice only where oneDNN is on by default), so any of them will do.
    loud = _run("import tfxfer", {"TF_CPP_MIN_LOG_LEVEL": "0"})
    startup = ("absl::InitializeLog", "oneDNN custom operations", "cpu_feature_guard")
    assert any(line in loud.stderr for line in startup), loud.stderr


COMMAND_LINES = [
    ["--version"],
    ["--help"],
    [],
    *([name, "--help"] for name in ("info", "demo", "inspect", "finetune")),
]


def test_the_command_answers_version_and_help_without_tensorflow():
    result = _run(
        f"""
        import contextlib, io, sys
        import _tfxfer_cli
        for argv in {COMMAND_LINES!r}:
            sys.argv = ["tfxfer", *argv]
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    code = _tfxfer_cli.main()
                except SystemExit as stop:
                    code = stop.code
            assert out.getvalue().strip(), argv
            print(argv, code)
        heavy = ("tensorflow", "keras", "numpy", "pandas", "gensim")
        print(sorted(m for m in heavy if m in sys.modules))
        """
    )
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "[]"
    assert len(lines) == len(COMMAND_LINES) + 1


def _console_script():
    script = pathlib.Path(sys.executable).parent / "tfxfer"
    if not script.exists():
        pytest.fail(f"the `tfxfer` console script is not installed at {script}")
    return str(script)


def test_console_script_prints_the_version():
    result = subprocess.run(
        [_console_script(), "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tfxfer {tfxfer.__version__}"


@pytest.mark.slow
def test_a_command_loads_the_api_and_finds_registered_classes(tmp_path):
    # Deferred loading must still register tfxfer's Keras classes before a
    # command loads a saved tfxfer model.
    path = tmp_path / "mlp.keras"
    model = tfxfer.MLPClassifier(num_classes=3, hidden_units=(4,))
    model(__import__("numpy").zeros((1, 5), "float32"))
    model.save(path)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [_console_script(), "inspect", str(path)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "MLPClassifier" in result.stdout or "trainable" in result.stdout
    assert "oneDNN" not in result.stderr and "absl" not in result.stderr


def test_importing_the_entry_module_alone_does_not_defer_the_api():
    # Worker processes of the demo import `_tfxfer_cli` again (it is their
    # parent's main module) without running `main`: they load everything.
    result = _run(
        """
        import sys, _tfxfer_cli, tfxfer
        print("tensorflow" in sys.modules, hasattr(tfxfer, "_api"))
        """
    )
    assert result.stdout.split() == ["True", "True"]
    for noise in ("absl::InitializeLog", "oneDNN", "cudart_stub"):
        assert noise not in result.stderr


def test_deferred_package_lists_and_resolves_its_names():
    result = _run(
        """
        import sys, _tfxfer_cli
        _tfxfer_cli.DEFER_API = True
        import tfxfer
        assert "train" in dir(tfxfer) and "tensorflow" not in sys.modules
        print(tfxfer.train.__module__, "tensorflow" in sys.modules)
        try:
            tfxfer.no_such_name
        except AttributeError as error:
            print(error)
        """
    )
    assert result.stdout.splitlines() == [
        "tfxfer.training.train True",
        "module 'tfxfer' has no attribute 'no_such_name'",
    ]


def test_finetune_command_starts_quietly(tmp_path):
    # The finetune command imports library modules that import Keras; they
    # must come after TensorFlow's quiet import, not before it.
    (tmp_path / "d.csv").write_text("a,label\n1,x\n2,y\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [
            _console_script(),
            "finetune",
            "d.csv",
            "--model",
            "missing.keras",
            "--label-column",
            "label",
            "--out",
            "o.keras",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "missing.keras" in result.stderr
    assert "oneDNN" not in result.stderr and "absl" not in result.stderr
