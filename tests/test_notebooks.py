"""Executes every notebook top to bottom (offline) and checks its shape."""

import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted(
    (pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")
)


def test_every_worked_example_has_a_notebook():
    text = " ".join(
        cell.source
        for path in NOTEBOOKS
        for cell in nbformat.read(path, as_version=4).cells[:2]
    )
    for example in [f"E{i}" for i in range(1, 10)]:
        assert re.search(rf"\b{example}\b", text), f"no notebook names {example}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_structure(path):
    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    assert re.search(r"[Ss]ource 00[0-4]", first.source), "names its source"
    assert re.search(r"[\u4e00-\u9fff]", first.source), "has a line in Chinese"
    headings = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    assert any("What the original got wrong" in h for h in headings)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "tfxfer" in code


# TensorFlow's C++ start-up lines, which Jupyter shows in the first cell
# unless tfxfer is imported first.
STARTUP_NOISE = ("absl::InitializeLog", "oneDNN custom operations", "cudart_stub")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    # As a student runs it: no log level chosen, and the kernel's own stderr
    # (file descriptor 2, where TensorFlow's C++ logs go) shown in the cells,
    # as Jupyter does by default.
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    streams = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "stream"
    )
    for noise in STARTUP_NOISE:
        assert noise not in streams, f"TensorFlow start-up line in the outputs: {noise}"
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert images, "the notebook shows at least one plot"
