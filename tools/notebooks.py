"""Build and execute the teaching notebooks.

    python tools/notebooks.py build SOURCE.py NOTEBOOK.ipynb  # script -> ipynb
    python tools/notebooks.py run [NOTEBOOK.ipynb ...]  # execute in place, timed

A percent script separates cells with `# %%` (code) and `# %% [markdown]`
(markdown, each line starting with `# `). `run` executes notebooks top to
bottom in `notebooks/` with outputs stored, so they render for readers, and
prints the wall time of each (the numbers in notebooks/README.md).
"""

from __future__ import annotations

import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"


def build(source: pathlib.Path, target: pathlib.Path) -> None:
    cells, kind, lines = [], None, []

    def flush():
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#")
                for line in text.splitlines()
            )
            cells.append(nbformat.v4.new_markdown_cell(text))
        elif kind == "code" and text:
            cells.append(nbformat.v4.new_code_cell(text))

    for line in source.read_text().splitlines():
        if line.startswith("# %%"):
            flush()
            kind = "markdown" if "[markdown]" in line else "code"
            lines = []
        else:
            lines.append(line)
    flush()
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.write(notebook, target)


def execute(path: pathlib.Path, *, timeout: int = 600) -> tuple:
    """Executes `path` in its folder; returns (notebook, seconds)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        # As Jupyter runs it: the kernel's C++ output (file descriptor 2) goes
        # into the cells, so what is stored is what a student sees. Each
        # notebook imports tfxfer first, which keeps TensorFlow's start-up
        # lines out.
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return notebook, time.perf_counter() - start


def main(argv: list[str]) -> int:
    if argv[:1] == ["build"] and len(argv) == 3:
        build(pathlib.Path(argv[1]), pathlib.Path(argv[2]))
        return 0
    if argv[:1] == ["run"]:
        paths = [pathlib.Path(p) for p in argv[1:]] or sorted(NOTEBOOKS.glob("*.ipynb"))
        for path in paths:
            notebook, seconds = execute(path)
            nbformat.write(notebook, path)
            print(f"{path.name}: {seconds:.1f} s")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
