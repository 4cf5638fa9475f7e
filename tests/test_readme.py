"""Runs the README's Python examples, so the documented code keeps working."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_python_examples():
    assert len(_python_blocks()) >= 2


@pytest.mark.slow
def test_readme_python_examples_run(tmp_path, fresh_python):
    # All blocks run in order in one fresh process, as a reader would paste them.
    code = "\n\n".join(_python_blocks())
    script = tmp_path / "readme_examples.py"
    script.write_text(code)
    out = fresh_python(
        f"exec(compile(open({str(script)!r}).read(), 'README.md', 'exec'))",
        cwd=tmp_path,
        timeout=600,
    )
    assert "test accuracy" in out


def test_classroom_exercise_is_at_most_15_lines_of_public_api():
    """Issue 16: the exercise a teacher sets fits in 15 lines and draws its
    learning curves with `plot_history` (it runs in the test above)."""
    text = README.read_text()
    section = text[text.index("## A classroom exercise") :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)
    lines = [line for line in code.splitlines() if line.strip()]
    assert len(lines) <= 15, lines
    for name in ("sample_per_class", "fine_tune", "plot_history"):
        assert name in code
    assert "tfxfer._" not in code and "tfxfer.training" not in code
