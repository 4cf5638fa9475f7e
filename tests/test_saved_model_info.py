"""Tests of `tfxfer.describe_saved_model` and of SavedModels being refused
unless trusted: a SavedModel whose graph writes a file, inspected and loaded
without trust, writes nothing."""

import numpy as np
import pytest

import tfxfer
from tfxfer import cli
from tfxfer.errors import ModelLoadError, UnsafeModelError


def _file_writing_saved_model(path, target):
    """A SavedModel with a `serve` endpoint (x @ w) and a resource whose
    initializer, run when the SavedModel is loaded, writes `target`."""
    import tensorflow as tf

    class FileWriter(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self):
            return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name="")

        def _initialize(self):
            return tf.io.write_file(str(target), "the graph ran")

    module = tf.Module()
    module.w = tf.Variable([[1.0, 2.0, 0.0], [3.0, 4.0, 1.0]])
    module.writer = FileWriter()

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(x):
        _ = module.writer.resource_handle
        return {"y": tf.matmul(x, module.w)}

    module.serve = serve
    tf.saved_model.save(module, str(path), signatures={"serving_default": serve})
    assert not target.exists()  # saving traces the initializer, never runs it
    return path


def test_untrusted_saved_model_never_runs_its_graph(tmp_path, capsys):
    target = tmp_path / "written_by_the_graph.txt"
    path = _file_writing_saved_model(tmp_path / "saved", target)

    description = tfxfer.describe_saved_model(path)
    inputs, outputs = description.signatures["serving_default"]
    assert [(t.name, t.dtype, t.shape) for t in inputs] == [("x", "float32", (None, 2))]
    assert [(t.name, t.dtype, t.shape) for t in outputs] == [
        ("y", "float32", (None, 3))
    ]
    assert description.variables == 1 and description.parameters == 6
    assert description.file_ops == ("WriteFile",)
    assert description.has_initializers
    assert description.fingerprint is not None
    assert "WriteFile" in str(description) and "x: float32 (None, 2)" in str(
        description
    )

    with pytest.raises(
        UnsafeModelError,
        match=r"(?s)can run TensorFlow operations when it is loaded.*uses "
        r"WriteFile.*trust_saved_model=True",
    ):
        tfxfer.load_pretrained(path)

    code = cli.main(["inspect", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "signature 'serving_default'" in out and "output y: float32" in out
    assert "variables: 1 (6 parameters" in out
    assert "not loaded" in err and "--unsafe" in err
    assert not target.exists()

    # Trusted, it loads: its initializer runs (the check above could fail).
    with pytest.warns(UserWarning, match="inference-only"):
        model = tfxfer.load_pretrained(path, trust_saved_model=True)
    assert target.read_text() == "the graph ran"
    np.testing.assert_allclose(
        model.predict(np.array([[1.0, 1.0]], np.float32), verbose=0), [[4, 6, 1]]
    )


def test_inspect_unsafe_loads_a_trusted_saved_model(tmp_path, capsys):
    target = tmp_path / "written.txt"
    path = _file_writing_saved_model(tmp_path / "saved", target)
    with pytest.warns(UserWarning, match="inference-only"):
        code = cli.main(["inspect", "--unsafe", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "signature 'serving_default'" in out and "saved_model" in out
    assert target.exists()


def test_load_pretrained_trust_saved_model_must_be_bool(tmp_path):
    with pytest.raises(ValueError, match=r"trust_saved_model=1"):
        tfxfer.load_pretrained(tmp_path, trust_saved_model=1)


def test_describe_saved_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tfxfer.describe_saved_model(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match=r"no `saved_model\.pb`"):
        tfxfer.describe_saved_model(tmp_path)
    (tmp_path / "saved_model.pb").write_bytes(b"\xff\xff\xff garbage")
    with pytest.raises(ModelLoadError, match="corrupt or truncated"):
        tfxfer.describe_saved_model(tmp_path)
