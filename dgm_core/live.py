"""Live training of small 2-D models in the UI: one protocol, one session object.

Any model that trains live on 2-D points (a GAN and its critic, a RealNVP learning a density, an
energy model with its SGLD chains) implements `LiveModel`:

    steps       updates taken so far (the unit is the model's own: say it in `step_unit`)
    history     one record per step ({"step": ..., metric: value, ...}), for the loss curves
    step()      one update; returns its record (a non-finite value means the model diverged)
    view()      what its panel draws now (`LiveView`: a field on a grid, points, optional arrows)
    metrics()   optional numbers recorded after each advance (the GANs' mode coverage), or None

`LiveSession` holds several such models trained side by side on the same data and advances them
in lockstep for a bounded time, which is all the page controller (labs/live.py) and the Space
controller (space/live.py) need: run / pause / step / reset, a step counter and steps per second.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

#: A refresh of a live panel trains for at most this long, then draws: the page stays responsive
#: (a click is answered within one refresh) whatever the steps-per-refresh setting.
LIVE_TRAIN_SECONDS = 0.3


@dataclass
class Field:
    """A scalar field on the square grid axis × axis: what a panel shows as its background."""
    axis: np.ndarray            # (R,) grid coordinates, the same for x₁ and x₂
    values: np.ndarray          # (R, R), values[i, j] at (axis[j], axis[i])
    label: str                  # what the values are, with their unit: "σ(D(x))", "log density (nats)"
    zmin: float | None = None   # fixed colour range where the values have one (a probability: 0, 1)
    zmax: float | None = None
    colorscale: str = "RdBu"    # diverging for a critic's signed field; a density reads better on a sequential one


@dataclass
class LiveView:
    """What one live panel draws of one model at one moment, as plain arrays."""
    title: str
    steps: int
    field: Field | None
    points: np.ndarray                       # the model's points: generated samples, chain states
    points_label: str = "generated"
    arrows: tuple[np.ndarray, np.ndarray] | None = None   # (start points, directions), drawn to a common scale
    arrows_label: str = ""


class LiveModel(Protocol):
    steps: int
    history: list[dict]

    def step(self) -> dict[str, float]: ...

    def view(self) -> LiveView: ...

    def metrics(self) -> dict | None: ...


@dataclass
class LiveSession:
    """Models trained side by side on the same 2-D data, advanced together. A model whose record
    stops being finite is frozen and reported, never silently continued.

    Made for a page that refreshes on a timer: `advance` trains for at most a given time, so a
    refresh takes a bounded time whatever the settings, and `view` returns what to draw. Both hold
    `lock`, because Streamlit can start a new script run while an interrupted one is still inside
    torch code: without it two refreshes would update the same parameters at once (autograd then
    fails with "modified by an inplace operation")."""
    models: dict[str, LiveModel]
    real: np.ndarray                                   # the data points, for drawing (a subset)
    step_unit: str = "steps"                           # what one step is, for the step counter's label
    metrics: dict[str, list[dict]] = field(default_factory=dict)
    diverged: dict[str, int] = field(default_factory=dict)
    steps_per_second: float = 0.0                      # of the last advance, training time only
    pending: int = 0                                   # steps asked for (a Step click) and not yet taken
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _pending_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self):
        for name in self.models:
            self.metrics.setdefault(name, [])

    @property
    def steps(self) -> int:
        """Lockstep steps taken (a frozen model stays at the step where it diverged)."""
        return max(model.steps for model in self.models.values())

    @property
    def all_diverged(self) -> bool:
        return len(self.diverged) == len(self.models)

    def advance(self, steps: int, seconds: float | None = None) -> int:
        """Up to `steps` steps of every model, in lockstep (one step each in turn), stopping early
        once `seconds` have passed; returns the steps done. Lockstep keeps the models at most one
        step apart if the caller is interrupted."""
        with self.lock:
            return self._advance(steps, seconds)

    def _advance(self, steps: int, seconds: float | None) -> int:
        start, done = time.perf_counter(), 0
        while done < steps and not (seconds is not None and done and time.perf_counter() - start >= seconds):
            for name, model in self.models.items():
                if name in self.diverged:
                    continue
                record = model.step()
                if not all(math.isfinite(v) for v in record.values()):
                    self.diverged[name] = model.steps
            done += 1
        if done:
            self.steps_per_second = done / max(time.perf_counter() - start, 1e-9)
            for name, model in self.models.items():
                if name not in self.diverged:
                    measured = model.metrics()
                    if measured is not None:
                        self.metrics[name].append({"step": model.steps, **measured})
        return done

    def request(self, steps: int) -> None:
        """Ask for `steps` more steps, taken by later calls of `advance_requested`."""
        with self._pending_lock:
            self.pending += steps

    def cancel_requests(self) -> None:
        with self._pending_lock:
            self.pending = 0

    def advance_requested(self, per_refresh: int, seconds: float | None = None) -> int:
        """Up to `per_refresh` of the pending steps (see `advance`). The count is read and lowered under
        the training lock, so two overlapping refreshes (Streamlit can start one while another is still in
        torch code) never take the same pending steps twice: each request is trained exactly once."""
        with self.lock:
            with self._pending_lock:
                take = min(per_refresh, self.pending)
            done = self._advance(take, seconds) if take else 0
            with self._pending_lock:
                self.pending = max(0, self.pending - done)
            return done

    def view(self) -> dict[str, LiveView]:
        """What each panel draws now, computed under the lock (drawing reads the parameters)."""
        with self.lock:
            return {name: model.view() for name, model in self.models.items()}

    def histories(self) -> dict[str, list[dict]]:
        return {name: model.history for name, model in self.models.items()}


def divergence_message(model) -> str:
    """What the live pages say about a model the session froze: its own `divergence_message` where it
    has one (the energy model's energies ran away), else that its losses stopped being finite."""
    return getattr(model, "divergence_message", "its losses are no longer finite numbers. It is frozen; lower its "
                                                "learning rates and press Reset.")
