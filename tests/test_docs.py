"""Every Python block of docs/*.md runs as written: each page's blocks, in order, as one
script in a fresh interpreter (blocks build on the ones before; a page that starts a Dask
cluster needs a real __main__ module, as users' scripts do)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fastnn

DOCS = Path(__file__).resolve().parents[1] / "docs"
# optional packages a page may use: without them the page is skipped, not failed
OPTIONAL = ("dask", "distributed", "dask_ml", "onnx", "onnxruntime", "torch", "matplotlib")


def _pages():
    return sorted(DOCS.glob("*.md")) if DOCS.exists() else []


def _script(page):
    return "\n\n".join(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S))


def test_docs_are_beside_the_tests():
    if not DOCS.exists():
        pytest.skip("docs/ is not beside the tests (installed without the source tree)")
    assert _pages(), "docs/ has no pages"


@pytest.mark.parametrize("page", _pages(), ids=lambda page: page.name)
def test_every_code_block_runs_as_written(page, tmp_path):
    script = _script(page)
    if not script:
        pytest.skip(f"{page.name} has no Python block")
    missing = [name for name in OPTIONAL
               if re.search(rf"^\s*(import|from) {name}\b", script, flags=re.M)
               and subprocess.run([sys.executable, "-c", f"import {name}"],
                                  capture_output=True).returncode != 0]
    if missing:
        pytest.skip(f"{page.name} needs {', '.join(missing)}")
    path = tmp_path / f"{page.stem}.py"
    path.write_text(script)
    env = {**os.environ, "PYTHONPATH": str(Path(fastnn.__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, f"{page.name}:\n{result.stdout}\n{result.stderr}"
