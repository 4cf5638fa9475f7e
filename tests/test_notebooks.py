"""Executes every notebook top to bottom (offline) and checks its shape.

Every conclusion a notebook draws from its numbers is checked: a code cell
after it holds `claims = {"<sentence>": <condition on the numbers>, ...}`,
prints a check mark per claim and asserts them all. The tests here check that
each such sentence is stated in the notebook's text, that the committed
outputs show every claim holding, and (executing the notebook again) that
they still hold.
"""

import ast
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


def test_notebooks_link_only_inside_the_repository():
    """Every notebook points to notebooks/SOURCES.md, which describes each
    worked example; no link leads outside the repository."""
    folder = NOTEBOOKS[0].parent
    sources = (folder / "SOURCES.md").read_text(encoding="utf-8")
    for example in [f"E{i}" for i in range(1, 10)]:
        assert f"| {example} |" in sources, f"SOURCES.md does not describe {example}"
    for path in [*NOTEBOOKS, folder / "README.md", folder / "SOURCES.md"]:
        if path.suffix == ".ipynb":
            notebook = nbformat.read(path, as_version=4)
            text = "\n".join(c.source for c in notebook.cells)
            assert "](SOURCES.md)" in notebook.cells[0].source, (
                f"{path.name}: its first cell must link the sources page, "
                "[SOURCES.md](SOURCES.md)"
            )
        else:
            text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#]+)", text):
            if "://" in target:
                continue
            assert (folder / target).resolve().is_relative_to(folder.parent), target
            assert (folder / target).exists(), f"{path.name} links {target}"


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


def _normalized(text: str) -> str:
    """Text without Markdown emphasis and with single spaces."""
    return " ".join(text.replace("*", "").split())


def claims_cells(notebook) -> list[tuple]:
    """(cell, claim sentences) for each code cell that assigns `claims = {...}`."""
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or "claims" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if (
                isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["claims"]
                and isinstance(node.value, ast.Dict)
            ):
                keys = node.value.keys
                assert all(
                    isinstance(k, ast.Constant) and isinstance(k.value, str)
                    for k in keys
                ), f"claims must be keyed by plain sentences:\n{cell.source}"
                found.append((cell, [k.value for k in keys]))
    return found


def printed_claims(cell) -> dict:
    """Claim sentence -> True/False, from the cell's printed check marks."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
    marks = {}
    for line in text.splitlines():
        if line[:2] in ("✓ ", "✗ "):
            marks[line[2:].strip()] = line[0] == "✓"
    return marks


def assert_claims_hold(notebook) -> None:
    for cell, claims in claims_cells(notebook):
        marks = printed_claims(cell)
        for claim in claims:
            assert claim in marks, f"claim not printed: {claim!r}"
            assert marks[claim], f"claim does not hold: {claim!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_conclusion_is_stated_and_checked(path):
    """Each notebook checks its conclusions; each checked one is in its text;
    the committed outputs show them holding."""
    notebook = nbformat.read(path, as_version=4)
    cells = claims_cells(notebook)
    assert cells, "no `claims = {...}` cell checks the notebook's conclusions"
    markdown = _normalized(
        " ".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    )
    for cell, claims in cells:
        assert claims, f"an empty claims cell:\n{cell.source}"
        assert "assert all(claims.values())" in cell.source, cell.source
        for claim in claims:
            assert _normalized(claim) in markdown, (
                f"checked but never stated in the notebook's text: {claim!r}"
            )
    assert_claims_hold(notebook)


def test_claims_cells_are_read_as_written():
    """The parser behind the test above, on a notebook made up here."""
    text = """claims = {
    "transfer scored below scratch": 0.78 < 0.82,
    "the two tie": abs(0.1) < 0.01,
}
for claim, holds in claims.items():
    print("✓" if holds else "✗", claim)
assert all(claims.values())"""
    cell = nbformat.v4.new_code_cell(text)
    cell.outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stdout",
            text="✓ transfer scored below scratch\n✗ the two tie\n",
        )
    ]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    [(_, claims)] = claims_cells(notebook)
    assert claims == ["transfer scored below scratch", "the two tie"]
    assert printed_claims(cell) == {
        "transfer scored below scratch": True,
        "the two tie": False,
    }
    with pytest.raises(AssertionError, match="does not hold: 'the two tie'"):
        assert_claims_hold(notebook)
    cell.source = text.replace('"the two tie"', 'f"the two {1}"')
    with pytest.raises(AssertionError, match="plain sentences"):
        claims_cells(notebook)


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
    # Small output: no progress bars (they redraw with \r and \b, one output
    # entry per redraw in a notebook) and no retracing warnings.
    assert "\x08" not in streams and "\r" not in streams, "a progress bar"
    assert "retracing" not in streams, "TensorFlow's retracing warning"
    # The conclusions still follow from the numbers of this run.
    assert_claims_hold(notebook)
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert images, "the notebook shows at least one plot"
