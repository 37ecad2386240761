"""Live training of small 2-D models in the UI: one protocol, one session, one snapshot, one runner.

Any model that trains live on 2-D points (a GAN and its critic, a RealNVP learning a density, an
energy model with its SGLD chains) implements `LiveModel`:

    steps       updates taken so far (the unit is the model's own: say it in `step_unit`)
    history     one record per step ({"step": ..., metric: value, ...}), for the loss curves
    step()      one update; returns its record (a non-finite value means the model diverged)
    view()      what its panel draws now (`LiveView`: a field on a grid, points, optional arrows)
    metrics()   optional numbers recorded once a refresh (the GANs' mode coverage), or None
    details()   optional: anything else its lab draws (the flow's layer-by-layer warp), or absent

`LiveSession` holds several such models trained side by side on the same data, in lockstep.
`LiveSnapshot` is everything a front end shows of a session at one moment — the step counter, the
steps per second over wall-clock, every panel, curve and metric — taken in one place, so what is
shown never mixes two moments (the counter said 999 while the panels said 1009).

Two controllers drive a session:
- the app's `LiveRunner`: a thread per browser session that trains on its own while the page's
  fragment only draws the latest snapshot (Streamlit's reruns never train, so a slow redraw or a
  click never stalls or doubles the training); run / pause / step / reset are state changes that act
  at once, from any thread;
- the Space's stream (space/live.py), a generator that trains a slice, yields a snapshot's figures
  and waits, inside Gradio's queue (which bounds how many students train at once).
Both pace themselves the same way: at most `steps_per_refresh` lockstep steps per refresh of
REFRESH_SECONDS, and both measure steps per second with `RateMeter`, over wall-clock.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

#: The live panels redraw once a refresh, in both front ends; a refresh trains at most the
#: steps-per-refresh setting. Faster redraws queued up in the browser until a click took seconds to land.
REFRESH_SECONDS = 1.0
#: The app's runner publishes a snapshot this often while it trains, so a redraw shows the state of at
#: most this long ago (a redraw every second would otherwise show a state up to a second old).
SNAPSHOT_SECONDS = 0.25
#: Steps per second are counted over the last this many seconds of wall-clock (or since Run, if later).
RATE_WINDOW_SECONDS = 5.0
#: A rate over less than this much wall-clock is noise (a few steps): it is not shown.
RATE_MIN_SECONDS = 0.9
#: Points drawn per set (data, samples, chains) in a live panel, and per layer in the flow's warp. Each is
#: an SVG marker that Plotly restyles at every refresh; per-point styling was the largest share of
#: Chromium's time while a page trained, enough to delay clicks (docs/experiments.md).
PANEL_POINTS = 300
WARP_POINTS = 150
#: The app's runner pauses itself when no page has drawn it for this long: the tab was closed, hidden
#: for minutes, or lost its connection. A thread never trains for nobody.
LEASE_SECONDS = 30.0


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


class RateMeter:
    """Steps per second over wall-clock, counted at the ends of refreshes: a controller calls `record`
    once a refresh has ended (its training and its wait), and the rate is (steps at the last end − steps
    at the end RATE_WINDOW_SECONDS before it) / the seconds between them. Every second counts, the time
    spent drawing and waiting included, so the rate times the seconds watched is what the counter climbs
    by (a rate over training time alone overstates it several-fold). Counting only whole refreshes keeps a rate
    read just after a burst of steps from leaving out the wait that follows it."""

    def __init__(self, window: float = RATE_WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.window, self.clock = window, clock
        self._samples: deque[tuple[float, int]] = deque()

    def restart(self, steps: int) -> None:
        """Training starts (again) at `steps`: the time before it, paused, is not counted."""
        self._samples = deque([(self.clock(), steps)])

    def record(self, steps: int) -> None:
        """A refresh has ended with `steps` steps taken."""
        now = self.clock()
        self._samples.append((now, steps))
        # the first sample kept is the newest at or before the window's start: the base counted from
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def rate(self) -> float | None:
        """Steps per second over the last window of whole refreshes, or None before RATE_MIN_SECONDS of them."""
        if len(self._samples) < 2:
            return None
        (t0, s0), (t1, s1) = self._samples[0], self._samples[-1]
        return (s1 - s0) / (t1 - t0) if t1 - t0 >= RATE_MIN_SECONDS else None


@dataclass(frozen=True)
class LiveSnapshot:
    """Everything a live panel shows, taken at one moment (by `LiveSession.snapshot`)."""
    version: int                            # grows with every snapshot of a runner (or a stream)
    steps: int                              # lockstep steps (a frozen model stays at the step where it diverged)
    step_unit: str
    steps_per_second: float | None          # over wall-clock (RateMeter); None while paused or just started
    state: str                              # "running", "stepping" (Step clicked) or "paused"
    pending: int                            # steps Step still has to take
    views: dict[str, LiveView]
    histories: dict[str, list[dict]]
    metrics: dict[str, list[dict]]
    details: dict[str, dict]                # what else each model's lab draws (LiveModel.details)
    diverged: dict[str, int]                # model -> the step it was frozen at
    divergence_notes: dict[str, str]        # model -> why it was frozen and what to try (divergence_message)
    real: np.ndarray                        # the data points drawn under every panel
    settings: object = None                 # what the session was built with (the page's configs)
    note: str = ""                          # why it is paused, when it paused itself or failed
    failed: bool = False                    # a model raised an error: the note says which and what


@dataclass
class LiveSession:
    """Models trained side by side on the same 2-D data, advanced in lockstep (one step each in
    turn, so they are never more than one step apart). A model whose record stops being finite is
    frozen and reported, never silently continued. `lock` is held while training and while taking
    a view, so two threads never update and read the same parameters at once."""
    models: dict[str, LiveModel]
    real: np.ndarray                                   # the data points, for drawing (a subset)
    step_unit: str = "steps"                           # what one step is, for the step counter's label
    metrics: dict[str, list[dict]] = field(default_factory=dict)
    diverged: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def __post_init__(self):
        for name in self.models:
            self.metrics.setdefault(name, [])
        self.record_metrics()            # step 0 measured too: a panel opens on its numbers, not on blanks

    @property
    def steps(self) -> int:
        return max(model.steps for model in self.models.values())

    @property
    def all_diverged(self) -> bool:
        return len(self.diverged) == len(self.models)

    def step(self) -> None:
        """One lockstep step: one update of every model that has not diverged."""
        with self.lock:
            for name, model in self.models.items():
                if name in self.diverged:
                    continue
                record = model.step()
                if not all(math.isfinite(v) for v in record.values()):
                    self.diverged[name] = model.steps

    def record_metrics(self) -> None:
        """Each live model's metrics() at its current step (once a refresh: they cost a few draws)."""
        with self.lock:
            for name, model in self.models.items():
                if name in self.diverged:
                    continue
                measured = model.metrics()
                if measured is not None and (not self.metrics[name] or self.metrics[name][-1]["step"] != model.steps):
                    self.metrics[name].append({"step": model.steps, **measured})

    def advance(self, steps: int, seconds: float | None = None, stop: Callable[[], bool] | None = None) -> int:
        """Up to `steps` lockstep steps, stopping early once `seconds` have passed (after at least one)
        or `stop()` says so; then the metrics. Returns the steps done."""
        start, done = time.perf_counter(), 0
        while done < steps and not self.all_diverged and not (stop is not None and stop()):
            if seconds is not None and done and time.perf_counter() - start >= seconds:
                break
            self.step()
            done += 1
        if done:
            self.record_metrics()
        return done

    def view(self) -> dict[str, LiveView]:
        """What each panel draws now, computed under the lock (drawing reads the parameters)."""
        with self.lock:
            return {name: model.view() for name, model in self.models.items()}

    def histories(self) -> dict[str, list[dict]]:
        return {name: model.history for name, model in self.models.items()}

    def snapshot(self, version: int = 0, steps_per_second: float | None = None, state: str = "paused",
                 pending: int = 0, settings: object = None, note: str = "", failed: bool = False) -> LiveSnapshot:
        """Everything a panel shows, at this moment, under the lock. The histories and metrics are
        copied (their records are never changed once written), so a later step cannot reach them."""
        with self.lock:
            return LiveSnapshot(
                version=version, steps=self.steps, step_unit=self.step_unit, steps_per_second=steps_per_second,
                state=state, pending=pending, views=self.view(),
                histories={name: list(model.history) for name, model in self.models.items()},
                metrics={name: list(records) for name, records in self.metrics.items()},
                details={name: model.details() for name, model in self.models.items() if hasattr(model, "details")},
                diverged=dict(self.diverged),
                divergence_notes={name: divergence_message(self.models[name]) for name in self.diverged}, real=self.real, settings=settings, note=note, failed=failed)


class LiveRunner:
    """The app's controller of one live session: a thread of its own trains it while the page only
    draws `snapshot`. Safe to call from any thread (Streamlit runs each rerun in a thread of its own).

    - `run()` trains until `pause()`; `step(n)` trains n steps and stops; both pace themselves to at
      most `steps_per_refresh` steps per REFRESH_SECONDS (the page's slider).
    - `pause()` acts before the next step: it returns once the thread has stopped and the snapshot
      shows the step where training stopped (a step under way finishes first).
    - `replace(session)` is Reset: the old session stops, the new one is shown at step 0.
    - `seen()` is the page saying it is still drawing; after LEASE_SECONDS without it the runner
      pauses itself, and the thread ends whenever training stops, so nothing runs for nobody.
    The thread never touches a front end: it trains, measures and publishes snapshots."""

    def __init__(self, session: LiveSession, settings: object = None, steps_per_refresh: int = 20,
                 refresh_seconds: float = REFRESH_SECONDS, snapshot_seconds: float = SNAPSHOT_SECONDS,
                 lease_seconds: float = LEASE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.refresh_seconds, self.snapshot_seconds, self.lease_seconds = refresh_seconds, snapshot_seconds, lease_seconds
        self.clock = clock
        self._cond = threading.Condition()
        self._session, self._settings = session, settings
        self._state, self._pending, self._per_refresh = "paused", 0, max(1, int(steps_per_refresh))
        self._note, self._failed = "", False
        self._thread: threading.Thread | None = None
        self._meter = RateMeter(clock=clock)
        self._seen = clock()
        self._version = 0
        self._snapshot = self._take_snapshot()

    # -- what the page reads
    @property
    def snapshot(self) -> LiveSnapshot:
        return self._snapshot

    @property
    def session(self) -> LiveSession:
        return self._session

    @property
    def settings(self) -> object:
        return self._settings

    @property
    def busy(self) -> bool:
        """Training, or about to: the page keeps redrawing while this holds."""
        return self._state != "paused"

    @property
    def steps_per_refresh(self) -> int:
        return self._per_refresh

    # -- the controls: state changes that act at once
    def run(self) -> None:
        with self._cond:
            if self._session.all_diverged or self._state == "running":
                return
            if self._state == "paused":
                self._meter.restart(self._session.steps)
            self._state, self._pending, self._note, self._failed = "running", 0, "", False
            self._seen = self.clock()
            self._start_thread()
            self._cond.notify_all()

    def step(self, steps: int | None = None) -> None:
        """Train `steps` more (default: one refresh's worth), then pause. Ignored while running."""
        with self._cond:
            if self._session.all_diverged or self._state == "running":
                return
            if self._state == "paused":
                self._meter.restart(self._session.steps)
            self._state, self._note, self._failed = "stepping", "", False
            self._pending += max(1, int(steps if steps is not None else self._per_refresh))
            self._seen = self.clock()
            self._start_thread()
            self._cond.notify_all()

    def pause(self, note: str = "", wait: float = 5.0) -> None:
        """Stop before the next step; wait (at most `wait` seconds) for the thread to publish the last
        snapshot. A second pause changes nothing. `note` is shown with that snapshot; "{steps}" in it
        becomes the step the run stopped at (the thread may finish the step it is in after the call)."""
        with self._cond:
            was_busy = self._state != "paused"
            self._state, self._pending = "paused", 0
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait)
        if was_busy and note:
            with self._cond:
                self._note = note.format(steps=f"{self._session.steps:,}")
                self._publish()

    def replace(self, session: LiveSession, settings: object = None) -> None:
        """Reset: stop the old session and show the new one at its first step (paused)."""
        self.pause()
        with self._cond:
            self._session, self._settings = session, settings
            self._note, self._failed = "", False
            self._meter.restart(session.steps)
            self._publish()

    def set_steps_per_refresh(self, steps: int) -> None:
        with self._cond:
            self._per_refresh = max(1, int(steps))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until training stops (a Step done, a pause, every model diverged); True if it has.
        For tests and benchmarks: a page never waits."""
        with self._cond:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.busy

    def seen(self) -> None:
        """The page drew a snapshot: someone is watching (see LEASE_SECONDS)."""
        self._seen = self.clock()

    # -- the thread
    def _start_thread(self) -> None:
        """Under the lock. A thread clears `_thread` under the same lock as it decides to end, so a Run
        that comes while the last thread is ending always gets a thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="dgm-live-runner", daemon=True)
            self._thread.start()

    def _take_snapshot(self) -> LiveSnapshot:
        self._version += 1
        rate = self._meter.rate() if self._state != "paused" else None
        return self._session.snapshot(self._version, rate, self._state, self._pending, self._settings,
                                      self._note, self._failed)

    def _publish(self) -> None:
        self._snapshot = self._take_snapshot()

    def _budget(self) -> int:
        """Steps the next refresh may take (0: stop), under the lock."""
        if self._state == "paused" or self._session.all_diverged:
            return 0
        if self.clock() - self._seen > self.lease_seconds:
            self._state, self._pending = "paused", 0
            self._note = (f"Paused by itself at step {self._session.steps:,}: the page had not been drawn for "
                          f"{self.lease_seconds:g} s (a hidden tab or a lost connection). Press Run to go on.")
            return 0
        return self._per_refresh if self._state == "running" else min(self._per_refresh, self._pending)

    def _end(self, me: threading.Thread, session: LiveSession) -> None:
        """Under the lock: the thread ends; the last snapshot shows where it stopped."""
        if self._session is session:
            if self._state != "paused":          # every model diverged
                self._state, self._pending = "paused", 0
            self._publish()
        if self._thread is me:
            self._thread = None

    def _work(self) -> None:
        me, session = threading.current_thread(), self._session
        refreshes = 0
        try:
            while True:
                with self._cond:
                    if refreshes and self._session is session:
                        self._meter.record(session.steps)       # a refresh (its steps and its wait) has ended
                    refreshes += 1
                    budget = self._budget() if self._session is session else 0
                    if budget == 0:
                        self._end(me, session)
                        return
                period_start = last_snapshot = self.clock()
                done = 0
                while done < budget:
                    with self._cond:
                        if self._state == "paused" or self._session is not session:
                            break
                    session.step()
                    done += 1
                    with self._cond:
                        if self._state == "stepping":
                            self._pending -= 1
                            if self._pending <= 0:
                                self._state, self._pending = "paused", 0
                    if session.all_diverged:
                        break
                    now = self.clock()
                    if now - period_start >= self.refresh_seconds:
                        break                      # slower than the budget: publish, then the next refresh
                    if now - last_snapshot >= self.snapshot_seconds:
                        with self._cond:
                            if self._session is session:
                                self._publish()
                        last_snapshot = now
                session.record_metrics()
                with self._cond:
                    if self._session is not session:
                        continue                   # replaced: the check above ends the thread
                    self._publish()
                    # Pacing: the rest of this refresh is free. A pause or a Run wakes the thread at once.
                    remaining = period_start + self.refresh_seconds - self.clock()
                    if remaining > 0 and done >= budget and self._state != "paused":
                        self._cond.wait(remaining)
        except Exception as exc:          # noqa: BLE001 - a failing model must reach the page, not end silently
            with self._cond:
                if self._session is session:
                    self._state, self._pending, self._failed = "paused", 0, True
                    self._note = (f"Training stopped at step {session.steps:,}: {type(exc).__name__}: {exc}. "
                                  "Change the settings and press Reset.")
                self._end(me, session)


def divergence_message(model) -> str:
    """What the live pages say about a model the session froze: its own `divergence_message` where it
    has one (the energy model's energies ran away), else that its losses stopped being finite."""
    return getattr(model, "divergence_message", "its losses are no longer finite numbers. It is frozen; lower its "
                                                "learning rates and press Reset.")
