"""The layer rules of DESIGN.md §3 (import-linter) and a cheap, side-effect-free `import mu0`."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_layers_hold():
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable))
    out = subprocess.run([exe or "lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_importing_the_library_pulls_in_no_heavy_dependency_and_writes_nothing(tmp_path):
    code = (
        "import sys, mu0, mu0.config, mu0.presets, mu0.settings, mu0.episodes, mu0.cli, mu0.sources.stages;"
        "heavy = {'torch', 'mujoco', 'metaworld', 'boto3', 'dvc', 'mlflow', 'prefect', 'cv2', 'av', "
        "'great_expectations', 'deepspeed', 'transformers'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert list(tmp_path.iterdir()) == []
