"""What a user meets first: the import, the docstring examples, the command line."""
import doctest
import importlib
import os
import pkgutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import fastnn


def run(*args):
    """Python in a neutral folder, importing the same fastnn as this test (not a source tree
    that happens to be the working directory)."""
    env = {**os.environ, "PYTHONPATH": str(Path(fastnn.__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          cwd=tempfile.gettempdir(), env=env)


def test_import_does_not_pull_in_sklearn_or_tqdm():
    code = "import sys, fastnn; print(sorted(m for m in ('sklearn', 'tqdm') if m in sys.modules))"
    assert run("-c", code).stdout.strip() == "[]"


def test_compiled_backend_is_the_default():
    assert fastnn.Network([2, 1]).backend == "cython"


@pytest.mark.parametrize("module", sorted(
    m.name for m in pkgutil.walk_packages(fastnn.__path__, "fastnn.") if m.name != "fastnn.__main__"))
def test_docstring_examples(module):
    failures, _ = doctest.testmod(importlib.import_module(module), verbose=False)
    assert failures == 0


def test_train_command_reports_accuracy_and_time():
    result = run("-m", "fastnn", "train", "--epochs", "10", "--no-progress")
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("test accuracy:")[1].split("%")[0])
    assert accuracy > 90, result.stdout
    assert "training time:" in result.stdout


def test_train_command_shows_progress():
    result = run("-m", "fastnn", "train", "--epochs", "2", "--backend", "numpy", "--dtype", "float32")
    assert result.returncode == 0, result.stderr
    assert "2/2" in result.stderr and "epoch" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--lr", "-1"], "--lr: must be a positive number"),
    (["--hidden", "64,x"], "widths like 64"),
    (["--activation", "softmax"], "invalid choice"),
    (["--momentum", "1.5"], "--momentum must lie in [0, 1)"),
])
def test_train_command_refuses_bad_options(args, message):
    result = run("-m", "fastnn", "train", "--no-progress", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_readme_quick_start_runs_as_shown():
    readme = Path(__file__).resolve().parents[1] / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not beside the tests (installed without the source tree)")
    text = readme.read_text()
    lines = text.splitlines()
    assert lines[0] == "# fastnn"
    commands = text.split("```bash\n")[1].split("```")[0].strip().splitlines()
    assert commands == ['pip install . && fastnn train', 'pip install ".[test]" && pytest']
    blocks = [block.split("```")[0] for block in text.split("```python\n")[1:]]
    assert blocks, "README has no Python example"
    namespaces = []
    for block in blocks:
        namespaces.append({})
        exec(compile(block, str(readme), "exec"), namespaces[-1])
    import numpy as np
    first = namespaces[0]  # the quick start: gradient descent learns XOR
    np.testing.assert_array_equal(first["net"].predict(first["X"]).round().ravel(), [0, 1, 1, 0])
    assert namespaces[-1]["clf"].score(namespaces[-1]["X"] / 16, namespaces[-1]["y"]) > 0.95
