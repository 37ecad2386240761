"""dgm_core as an installable library: pyproject.toml names every third-party distribution the code imports,
ships every data file the package reads (the rest is found through DGM_LAB_HOME, dgm_core/paths.py), and a
fresh virtual environment with the package installed loads a checkpoint by path and an example network
from another directory, with the repository nowhere on its path."""
import ast
import fnmatch
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE = ROOT / "dgm_core"


def normalised(name: str) -> str:
    """A distribution's name as PEP 503 compares them: lowercase, runs of -, _ and . as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_dependencies() -> set[str]:
    return {normalised(re.match(r"[A-Za-z0-9._-]+", req.strip()).group(0)) for req in PYPROJECT["project"]["dependencies"]}


def imported_modules() -> dict[str, set[str]]:
    """Top-level module -> the files importing it, for every absolute import anywhere in dgm_core
    (module level, inside functions, under `if`/`try`), the standard library and dgm_core left out."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "dgm_core" and top != "__future__":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_of_dgm_core_is_a_declared_dependency():
    distributions = importlib.metadata.packages_distributions()
    declared = declared_dependencies()
    modules = imported_modules()
    assert {"torch", "numpy", "huggingface_hub", "sklearn"} <= set(modules)   # the scan sees the imports
    missing, unknown = [], []
    for module, files in sorted(modules.items()):
        if module not in distributions:
            unknown.append(f"{module} (imported in {', '.join(sorted(files))})")
            continue
        names = {normalised(d) for d in distributions[module]}
        if not names & declared:
            missing.append(f"{'/'.join(sorted(names))} for `import {module}` in {', '.join(sorted(files))}")
    assert not unknown, f"imported by dgm_core but installed by no distribution here: {unknown}"
    assert not missing, f"add to [project].dependencies in pyproject.toml: {missing}"


def test_the_library_depends_on_neither_front_end():
    assert not {"streamlit", "gradio", "gradio-client"} & declared_dependencies()
    assert not {"streamlit", "gradio", "gradio_client"} & set(imported_modules())


def test_every_subpackage_and_data_file_of_dgm_core_is_in_the_distribution():
    """setuptools' package discovery takes every package, and package-data every file that is not code."""
    from setuptools import find_packages

    found = set(find_packages(str(ROOT), include=PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]))
    packages = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert packages == found, packages ^ found
    assert {"dgm_core.gan", "dgm_core.flow", "dgm_core.labs", "dgm_core.pgm", "dgm_core.data", "dgm_core.figures"} <= found
    package_data = PYPROJECT["tool"]["setuptools"].get("package-data", {})
    unshipped = []
    for path in PACKAGE.rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        owner = max((p for p in packages if path.relative_to(ROOT).parts[:len(p.split("."))] == tuple(p.split("."))),
                    key=len)
        inside = path.relative_to(ROOT.joinpath(*owner.split("."))).as_posix()
        if not any(fnmatch.fnmatch(inside, pattern) for pattern in package_data.get(owner, [])):
            unshipped.append(path.relative_to(ROOT).as_posix())
    assert not unshipped, f"data files in dgm_core that the wheel would leave out (add them to package-data): {unshipped}"


CHILD = """
import json, sys
from pathlib import Path
import torch
import dgm_core
from dgm_core import paths
from dgm_core.checkpoints import load_checkpoint
from dgm_core.pgm.examples import example_names, load_example

checkpoint = load_checkpoint(sys.argv[1])
asia = load_example("asia")
print(json.dumps({
    "file": dgm_core.__file__, "path": sys.path, "home": str(paths.home()),
    "sample": list(checkpoint.model.sample(4, torch.Generator().manual_seed(0)).shape),
    "model_type": checkpoint.config["model_type"], "examples": example_names(),
    "asia": list(asia.nodes), "student": list(load_example("student").nodes),
}))
"""

CHILD_WITH_HOME = """
import json
from dgm_core import compare, lessons, paths
from dgm_core.checkpoints import load_checkpoint, shipped_checkpoints
import torch

checkpoint = load_checkpoint("vae-digits-beta1")
by_lab, problems = lessons.load_all()
print(json.dumps({
    "home": str(paths.home()), "folder": str(checkpoint.path), "shipped": shipped_checkpoints(),
    "sample": list(checkpoint.model.sample(4, torch.Generator().manual_seed(0)).shape),
    "lessons": sorted(by_lab), "problems": problems,
    "results": (compare.RESULTS_DIR / compare.RESULTS_NAME).is_file(),
}))
"""


@pytest.mark.slow
def test_a_fresh_virtual_environment_installs_the_package_and_loads_a_checkpoint_and_a_network(tmp_path):
    # Build from a copy of what the distribution is made of, so that the build's egg-info and build/ folders
    # land there and not in the working tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        top = pattern.split(".")[0].rstrip("*")
        shutil.copytree(ROOT / top, source / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # The system's packages are visible (torch is not downloaded again); the venv gets no pip of its own:
    # ensurepip's older setuptools would shadow the system's, so the system's pip and setuptools build it.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True,
                   timeout=300)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "DGM_LAB_HOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-build-isolation", str(source)],
                             capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True, env=env).stdout.strip())
    assert (site / "dgm_core" / "pgm" / "networks" / "asia.bif.gz").is_file()

    elsewhere = tmp_path / "elsewhere"          # neither the repository nor the copy it was built from
    elsewhere.mkdir()
    result = subprocess.run([str(python), "-c", CHILD, str(ROOT / "checkpoints" / "vae-digits-beta1")],
                            capture_output=True, text=True, timeout=300, env=env, cwd=elsewhere)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(seen["file"]).resolve().is_relative_to(site.resolve()), seen["file"]   # the installed copy
    assert not any((elsewhere / p).resolve() in (ROOT, source) for p in seen["path"]), seen["path"]   # "" is the cwd
    assert Path(seen["home"]) == elsewhere.resolve()        # no DGM_LAB_HOME: the current directory
    assert seen["sample"] == [4, 1, 28, 28] and seen["model_type"] == "vae"
    assert "asia" in seen["examples"] and "student" in seen["examples"]
    assert seen["asia"] == ["asia", "tub", "smoke", "lung", "bronc", "either", "xray", "dysp"]
    assert "Grade" in seen["student"]

    # One setting says where the shipped files are: the installed package finds them by name.
    with_home = subprocess.run([str(python), "-c", CHILD_WITH_HOME], capture_output=True, text=True, timeout=300,
                               env={**env, "DGM_LAB_HOME": str(ROOT)}, cwd=elsewhere)
    assert with_home.returncode == 0, with_home.stderr[-3000:]
    seen = json.loads(with_home.stdout.strip().splitlines()[-1])
    assert Path(seen["home"]) == ROOT.resolve()
    assert Path(seen["folder"]) == ROOT.resolve() / "checkpoints" / "vae-digits-beta1"
    assert "vae-digits-beta1" in seen["shipped"] and seen["sample"] == [4, 1, 28, 28]
    assert {"vae", "bayesian-networks"} <= set(seen["lessons"]) and not seen["problems"], seen
    assert seen["results"]
