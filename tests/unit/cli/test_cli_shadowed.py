"""A folder named ``ropecheck`` in the current directory, which ``python -m`` puts first on
sys.path: the command says what shadows the package and exits 2, never an ImportError
traceback. (With a regular install the installed package beats an empty folder and the
command just works; with an editable install, or a folder holding ``__init__.py``, the
folder wins.)"""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("package", [False, True], ids=["empty-folder", "folder-with-init"])
def test_a_shadowing_folder_is_named_not_a_traceback(tmp_path, package):
    (tmp_path / "ropecheck").mkdir()
    if package:
        (tmp_path / "ropecheck" / "__init__.py").write_text("")
    proc = subprocess.run([sys.executable, "-m", "ropecheck", "--version"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 0:
        assert proc.stdout.startswith("ropecheck "), proc.stdout
    elif "No module named ropecheck.__main__" not in proc.stderr:  # python's own one line, before any of ours
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == (f"ropecheck: error: the folder {tmp_path / 'ropecheck'} shadows the installed ropecheck "
                               "package (python -m puts the current directory first on sys.path): run from another "
                               "directory, rename that folder, or use the `ropecheck` command\n")
    if package or proc.returncode != 0:
        return
    clean = subprocess.run([sys.executable, "-m", "ropecheck", "--version"], cwd=tmp_path / "ropecheck",
                           capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0 and clean.stdout.startswith("ropecheck ")
