"""Where DGM Lab finds the files that are not code: the shipped checkpoints, the lesson files and the
results the benchmarks write (the example networks are package data, found beside their module).

One setting says where they are: the environment variable DGM_LAB_HOME, a folder holding
`checkpoints/`, `lessons/` and `benchmarks/results/`. Without it, a checkout of the repository (a clone,
or an editable install) uses its own folders, and an installed package the current directory. A
checkpoint can always be loaded by its path or Hub id, wherever it is.
"""
from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "DGM_LAB_HOME"


def home() -> Path:
    """The folder of checkpoints/, lessons/ and benchmarks/results/ (see the module's docstring)."""
    if os.environ.get(HOME_VARIABLE):
        return Path(os.environ[HOME_VARIABLE]).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "checkpoints").is_dir() and (checkout / "dgm_core").is_dir():
        return checkout
    return Path.cwd()


def checkpoints_dir() -> Path:
    return home() / "checkpoints"


def lessons_dir() -> Path:
    return home() / "lessons"


def results_dir() -> Path:
    return home() / "benchmarks" / "results"
