"""scikit-learn's own tests of its MLP estimators against fastnn's drop-ins.

The test module shipped inside the installed scikit-learn
(sklearn/neural_network/tests/test_mlp.py) is copied to a temporary folder with one line
changed, its import of MLPClassifier and MLPRegressor, which then come from fastnn; it runs
with scikit-learn's conftest loaded (its global_random_seed fixture). Nothing is vendored: the
tests are those of whichever scikit-learn is installed. Extra arguments go to pytest.

    python tools/sklearn_mlp_tests.py [-q] [-k name]

fastnn is the one this interpreter imports (installed, or a source checkout with built kernels
on PYTHONPATH).
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import sklearn

import fastnn

IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"


def main(args):
    source = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    text = source.read_text()
    if text.count(IMPORT) != 1:
        sys.exit(f"{source}: expected exactly one line {IMPORT.strip()!r}; scikit-learn "
                 f"{sklearn.__version__} changed its test module")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "test_fastnn_as_sklearn_mlp.py"
        copy.write_text(text.replace(IMPORT, "from fastnn import MLPClassifier, MLPRegressor\n"))
        # -p sklearn.conftest: the fixtures; rootdir and cwd in the copy's folder, so that no
        # project configuration or source checkout is picked up instead of the installed package
        command = [sys.executable, "-m", "pytest", "-p", "sklearn.conftest", "-p", "no:cacheprovider",
                   "--rootdir", folder, str(copy), *args]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(Path(fastnn.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
        return subprocess.run(command, cwd=folder, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
