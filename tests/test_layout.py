"""The sizes issue 23 set for the training engine stay true.

`Trainer` keeps setup, `fit`, `evaluate` and `reset` (the rest lives in its
own modules), so trainer.py stays short and no function under
`tfxfer/training/` grows past what a reader can hold at once.
"""

import ast
import pathlib

TRAINING = pathlib.Path(__file__).resolve().parents[1] / "tfxfer" / "training"
MAX_TRAINER_LINES = 500
MAX_FUNCTION_LINES = 120


def test_trainer_module_stays_short():
    lines = len((TRAINING / "trainer.py").read_text().splitlines())
    assert lines <= MAX_TRAINER_LINES, f"trainer.py has {lines} lines"


def test_no_training_function_is_over_the_limit():
    long = []
    for path in sorted(TRAINING.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({size})")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
