"""What a user meets first: the import, the docstring examples, the command line."""
import doctest
import importlib
import os
import pkgutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import fastnn
import fastnn as fnn


def run(*args):
    """Python in a neutral folder, importing the same fastnn as this test (not a source tree
    that happens to be the working directory)."""
    env = {**os.environ, "PYTHONPATH": str(Path(fastnn.__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          cwd=tempfile.gettempdir(), env=env)


def test_import_does_not_pull_in_sklearn_tqdm_or_pandas():
    code = ("import sys, fastnn; print(sorted(m for m in ('sklearn', 'tqdm', 'pandas') "
            "if m in sys.modules))")
    assert run("-c", code).stdout.strip() == "[]"


def test_compiled_backend_is_the_default():
    assert fastnn.Network([2, 1]).backend == "cython"


@pytest.mark.parametrize("module", sorted(
    m.name for m in pkgutil.walk_packages(fastnn.__path__, "fastnn.") if m.name != "fastnn.__main__"))
def test_docstring_examples(module):
    if module == "fastnn.onnx":
        pytest.importorskip("onnx")
    failures, _ = doctest.testmod(importlib.import_module(module), verbose=False)
    assert failures == 0


def test_train_command_reports_accuracy_and_time():
    result = run("-m", "fastnn", "train", "--epochs", "10", "--no-progress")
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("test accuracy:")[1].split("%")[0])
    assert accuracy > 90, result.stdout
    assert "training time:" in result.stdout


def test_train_command_shows_progress():
    result = run("-m", "fastnn", "train", "--epochs", "2", "--dtype", "float32")
    assert result.returncode == 0, result.stderr
    assert "2/2" in result.stderr and "epoch" in result.stderr and "float32" in result.stdout


def write_csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")


def test_train_on_a_csv_save_and_predict(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    target = 2 * X[:, 0] - X[:, 2]
    write_csv(tmp_path / "data.csv", ["a", "price", "b", "c"],
              np.c_[X[:, 0], target, X[:, 1], X[:, 2]])
    model = tmp_path / "model.npz"
    result = run("-m", "fastnn", "train", "--data", str(tmp_path / "data.csv"), "--target", "price",
                 "--hidden", "16", "--optimizer", "adam", "--lr", "0.01", "--epochs", "60",
                 "--save", str(model), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "regression" in result.stdout
    assert float(result.stdout.split("test R^2:")[1].split()[0]) > 0.9
    write_csv(tmp_path / "new.csv", ["a", "b", "c"], X[:5])
    result = run("-m", "fastnn", "predict", str(model), str(tmp_path / "new.csv"), "-o",
                 str(tmp_path / "out.npy"))
    assert result.returncode == 0, result.stderr
    predictions = np.load(tmp_path / "out.npy")
    import pandas as pd
    new = pd.DataFrame(X[:5], columns=["a", "b", "c"])
    np.testing.assert_allclose(predictions, fnn.load(model).predict(new))
    np.testing.assert_allclose(predictions, target[:5], atol=0.5)
    result = run("-m", "fastnn", "predict", str(model), str(tmp_path / "new.csv"))
    assert result.stdout.splitlines()[0] == "price" and len(result.stdout.splitlines()) == 6
    np.save(tmp_path / "new.npy", X[:5])  # no column names: read in the model's order
    np.savez(tmp_path / "new.npz", X=X[:5])
    for name in ("new.npy", "new.npz"):
        result = run("-m", "fastnn", "predict", str(model), str(tmp_path / name), "-o",
                     str(tmp_path / "out.csv"))
        assert result.returncode == 0, result.stderr
        np.testing.assert_allclose(np.loadtxt(tmp_path / "out.csv", delimiter=",", skiprows=1),
                                   predictions, rtol=1e-9)


@pytest.mark.parametrize("args, message", [
    (["predict", "missing.npz", "x.csv"], "no such file"),
    (["predict", "{model}", "{bad}"], "cannot parse"),
    (["predict", "{model}", "{text}"], "column 'b' is not numeric"),
    (["predict", "{model}", "{wide}"], "the model expects 3"),
    (["train", "--data", "{bad}"], "cannot parse"),
    (["train", "--data", "{wide}", "--target", "nope"], "no column 'nope'"),
    (["bench", "--workloads", "huge"], "unknown workload"),
    (["train", "--optimizer", "lbfgs", "--lr", "0.1", "--no-progress"], "--lr does not apply"),
])
def test_command_errors_are_one_line(tmp_path, args, message):
    model = tmp_path / "model.npz"
    fnn.Network([3, 2, 1], seed=0).save(model)
    (tmp_path / "bad.csv").write_text("a,b,c\n1,2,3\n1,2,3,4,5\n")
    (tmp_path / "text.csv").write_text("a,b,c\n1,x,3\n")
    write_csv(tmp_path / "wide.csv", ["a", "b", "c", "d"], [[1, 2, 3, 4]])
    paths = {"model": model, "bad": tmp_path / "bad.csv", "wide": tmp_path / "wide.csv",
             "text": tmp_path / "text.csv"}
    result = run("-m", "fastnn", *[a.format(**paths) for a in args])
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_bench_command_prints_a_table_and_json(tmp_path):
    result = run("-m", "fastnn", "bench", "--quick", "--workloads", "tiny", "--threads", "1",
                 "--json", str(tmp_path / "bench.json"))
    assert result.returncode == 0, result.stderr
    assert "us/step" in result.stdout and "fastnn" in result.stdout and "numpy" in result.stdout
    assert "vs numpy: speed over fastnn's NumPy backend" in result.stdout
    assert "not run (those workloads are not written for that library" in result.stdout
    assert "scikit-learn on tiny" in result.stdout  # no bar without a word why
    import json
    document = json.loads((tmp_path / "bench.json").read_text())
    assert document["environment"]["threads"] == 1 and document["environment"]["blas"]
    rows = {r["contender"]: r for r in document["results"]}
    assert rows["numpy"]["speedup_vs_numpy"] == 1.0 and rows["fastnn"]["us_per_step"] > 0


@pytest.mark.parametrize("args, message", [
    (["--lr", "-1"], "--lr: must be a positive number"),
    (["--hidden", "64,x"], "widths like 64"),
    (["--activation", "softmax"], "invalid choice"),
    (["--optimizer", "newton"], "invalid choice"),
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
    drop_in = next(namespace for namespace in namespaces if "clf" in namespace)
    assert drop_in["clf"].score(drop_in["X"] / 16, drop_in["y"]) > 0.95


PUBLIC_MODULES = ["activations", "checkpoint", "gradient_check", "history", "initializers",
                  "interop", "io", "losses", "network", "onnx", "optim", "runtime", "schedules",
                  "sklearn", "table_model", "tables", "lr_finder"]


def test_dir_shows_the_public_names():
    names = dir(fnn)
    for name in ("MLPClassifier", "MLPRegressor", "Network", "onnx", "optim", "schedules"):
        assert name in names
    for module in PUBLIC_MODULES:
        module = importlib.import_module(f"fastnn.{module}")
        assert all(hasattr(module, name) for name in module.__all__), module.__name__
        if module.__name__ != "fastnn.optim":  # a package: its submodules show too
            assert sorted(dir(module)) == sorted(module.__all__), module.__name__
    assert "check_count" not in dir(fnn.schedules) and "math" not in dir(fnn.schedules)


def test_nothing_sends_users_to_the_other_fastnn_on_the_package_index():
    """'fastnn' on the package index is another project: installs name this checkout."""
    import re

    root = Path(__file__).resolve().parents[1]
    files = [*root.glob("*.md"), *root.glob("docs/*.md"), *root.glob("fastnn/**/*.py")]
    if not any(path.suffix == ".md" for path in files):
        pytest.skip("the docs are not beside the tests (installed without the source tree)")
    offending = [f"{path.name}: {match.group(0)}" for path in files
                 for match in re.finditer(r"pip install\s+['\"]?fastnn\b[^\s'\"]*", path.read_text())]
    assert offending == []
    assert re.search(r'^name = "fastnn-mlp"', (root / "pyproject.toml").read_text(), re.M)
