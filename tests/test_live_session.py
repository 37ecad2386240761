"""dgm_core.live: the app's LiveRunner (a thread trains; run / pause / step / reset act at once), its
snapshots (everything shown from one moment), and steps per second counted over wall-clock.

Every test counts steps; none asserts a time. The timeouts only stop a hang."""
import threading
import time

import numpy as np
import pytest

from dgm_core import flow
from dgm_core.live import LiveRunner, LiveSession, LiveView, RateMeter

HANG = 60          # seconds: only to stop a hung thread, never a measure of speed


class Counter:
    """A LiveModel that only counts its steps; `gate`, if set, holds each step until it is opened."""

    def __init__(self, gate: threading.Event | None = None, entered: threading.Event | None = None):
        self.steps, self.history, self.gate, self.entered = 0, [], gate, entered
        self.views = 0

    def step(self):
        if self.entered is not None:
            self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(HANG)
        self.steps += 1
        self.history.append({"step": self.steps, "loss": 0.0})
        return {"loss": 0.0}

    def view(self):
        self.views += 1
        return LiveView("counter", self.steps, None, np.zeros((0, 2)))

    def metrics(self):
        return {"steps_seen": self.steps}


def session(*models) -> LiveSession:
    return LiveSession({f"m{i}": m for i, m in enumerate(models)}, real=np.zeros((0, 2)))


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


# ------------------------------------------------------------------ steps per second over wall-clock
def test_the_rate_counts_every_second_of_a_refresh_the_waiting_included():
    """Bursts of 30 steps, each followed by a wait, one refresh a second: the rate is 30 a second, the
    steps the counter climbs by each second, however fast each burst ran (a rate over training time
    alone showed 3-10x that)."""
    clock = FakeClock()
    meter = RateMeter(window=5.0, clock=clock)
    meter.restart(0)
    steps = 0
    for _ in range(12):
        clock.now += 0.1                 # the burst: 30 steps in a tenth of a second
        steps += 30
        assert meter.rate() in (None, pytest.approx(30.0))
        clock.now += 0.9                 # the wait that ends the refresh
        meter.record(steps)
        assert meter.rate() == pytest.approx(30.0)


def test_the_rate_follows_a_change_of_speed_within_its_window_and_restarts_after_a_pause():
    clock = FakeClock()
    meter = RateMeter(window=5.0, clock=clock)
    meter.restart(0)
    steps = 0
    for per_second in [10] * 6 + [50] * 6:
        clock.now += 1.0
        steps += per_second
        meter.record(steps)
    assert meter.rate() == pytest.approx(50.0)          # the last 5 s were all at 50
    clock.now += 100.0                                   # paused for 100 s: not counted
    meter.restart(steps)
    assert meter.rate() is None                          # nothing measured yet since Run
    clock.now += 1.0
    meter.record(steps + 20)
    assert meter.rate() == pytest.approx(20.0)


def test_a_rate_over_a_fraction_of_a_second_is_not_shown():
    clock = FakeClock()
    meter = RateMeter(clock=clock)
    meter.restart(0)
    clock.now += 0.2
    meter.record(1)
    assert meter.rate() is None


# ------------------------------------------------------------------ the runner
def test_step_trains_exactly_what_was_asked_then_pauses():
    model = Counter()
    runner = LiveRunner(session(model), steps_per_refresh=7, refresh_seconds=0.01)
    runner.step()
    runner.step(5)                      # asked while the first is training: adds to it
    assert runner.wait(HANG)
    assert model.steps == 12 and runner.snapshot.steps == 12 and runner.snapshot.state == "paused"


def test_pause_acts_before_the_next_step():
    """Pause while a step is under way: that step finishes, no other starts, and the snapshot that
    pause() leaves shows where it stopped."""
    gate, entered = threading.Event(), threading.Event()
    model = Counter(gate, entered)
    runner = LiveRunner(session(model), steps_per_refresh=1000)
    runner.run()
    assert entered.wait(HANG)           # inside the first step
    pauser = threading.Thread(target=runner.pause)
    pauser.start()
    while runner.busy:                  # pause() has changed the state: now let the step finish
        time.sleep(0.001)
    gate.set()
    pauser.join(HANG)
    assert runner.wait(HANG)
    assert model.steps == 1 and runner.snapshot.steps == 1 and runner.snapshot.state == "paused"
    runner.pause()                      # a second pause changes nothing
    assert model.steps == 1


def test_a_pause_note_names_the_step_the_run_stopped_at_not_the_one_it_was_in():
    """Leaving a page pauses its run with a note: a step under way when pause() is called still ends,
    and the note says the step shown beside it (it said 625 beside a counter at 626)."""
    gate, entered = threading.Event(), threading.Event()
    model = Counter(gate, entered)
    runner = LiveRunner(session(model), steps_per_refresh=1000)
    runner.run()
    assert entered.wait(HANG)           # inside the first step: 0 steps done
    pauser = threading.Thread(target=runner.pause, kwargs={"note": "Paused at step {steps} when you left."})
    pauser.start()
    while runner.busy:
        time.sleep(0.001)
    gate.set()
    pauser.join(HANG)
    assert runner.snapshot.steps == model.steps == 1
    assert runner.snapshot.note == "Paused at step 1 when you left."


def test_run_after_pause_goes_on_and_a_refresh_takes_at_most_its_budget():
    """Pacing: a refresh trains at most steps_per_refresh steps, then publishes and waits."""
    model = Counter()
    runner = LiveRunner(session(model), steps_per_refresh=5, refresh_seconds=0.05, snapshot_seconds=10)
    published = []
    original = runner._publish

    def publish():
        original()
        published.append(runner.snapshot.steps)

    runner._publish = publish
    runner.run()
    while model.steps < 40:
        runner.seen()
        time.sleep(0.001)
    runner.pause()
    gaps = np.diff([0, *published])
    assert gaps.max() <= 5 and published[-1] == model.steps
    runner.run()
    while model.steps < 50:
        runner.seen()
        time.sleep(0.001)
    runner.pause()
    assert runner.snapshot.steps == model.steps >= 50


def test_a_snapshot_is_one_moment_and_later_steps_do_not_reach_it():
    model = Counter()
    runner = LiveRunner(session(model), steps_per_refresh=10, refresh_seconds=0.01)
    runner.step(10)
    runner.wait(HANG)
    shot = runner.snapshot
    runner.step(10)
    runner.wait(HANG)
    assert shot.steps == shot.views["m0"].steps == len(shot.histories["m0"]) == 10
    assert shot.metrics["m0"][-1] == {"step": 10, "steps_seen": 10}
    assert runner.snapshot.steps == 20 and runner.snapshot.version > shot.version


def test_models_train_in_lockstep_and_reset_starts_again_at_step_zero():
    a, b = Counter(), Counter()
    runner = LiveRunner(session(a, b), steps_per_refresh=4, refresh_seconds=0.01)
    runner.step(9)
    runner.wait(HANG)
    assert a.steps == b.steps == 9
    fresh = Counter()
    runner.replace(session(fresh), settings="new")
    assert runner.snapshot.steps == 0 and runner.settings == "new" and not runner.busy


def test_a_runner_nobody_draws_pauses_itself_and_its_thread_ends():
    clock = FakeClock()
    model = Counter()
    runner = LiveRunner(session(model), steps_per_refresh=3, refresh_seconds=0.001, lease_seconds=30, clock=clock)
    runner.run()
    while model.steps < 9:
        time.sleep(0.001)
    clock.now += 31                     # the page has not drawn it for 31 s
    assert runner.wait(HANG)
    assert "had not been drawn for 30 s" in runner.snapshot.note
    steps = model.steps
    assert runner._thread is None and model.steps == steps


def test_a_model_that_raises_stops_the_run_with_its_message():
    class Broken(Counter):
        def step(self):
            if self.steps == 2:
                raise RuntimeError("the critic exploded")
            return super().step()

    runner = LiveRunner(session(Broken()), steps_per_refresh=10, refresh_seconds=0.01)
    runner.run()
    assert runner.wait(HANG)
    shot = runner.snapshot
    assert shot.failed and "RuntimeError: the critic exploded" in shot.note and shot.steps == 2


def test_a_diverged_model_is_frozen_while_the_others_go_on():
    class Diverging(Counter):
        def step(self):
            record = super().step()
            return {"loss": float("nan")} if self.steps == 3 else record

    good, bad = Counter(), Diverging()
    runner = LiveRunner(session(good, bad), steps_per_refresh=10, refresh_seconds=0.01)
    runner.step(8)
    runner.wait(HANG)
    assert runner.snapshot.diverged == {"m1": 3} and good.steps == 8 and bad.steps == 3
    assert "no longer finite" in runner.snapshot.divergence_notes["m1"]


def test_the_flow_snapshot_carries_its_warp_from_the_same_step():
    runner = LiveRunner(flow.live_session(flow.ToyFlowConfig(couplings=2, hidden=8)), steps_per_refresh=5,
                        refresh_seconds=0.01)
    runner.step(5)
    runner.wait(HANG)
    shot = runner.snapshot
    assert shot.steps == shot.views["realnvp"].steps == 5
    assert len(shot.details["realnvp"]["warp"]["forward"]) == 3          # the standardised grid, 2 couplings
