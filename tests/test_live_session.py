"""dgm_core.live.LiveSession's requested steps: each is trained exactly once, even when two refreshes
overlap (Streamlit can start a rerun while the last one is still inside torch code)."""
import threading

from dgm_core.live import LiveSession, LiveView


class Counter:
    """A LiveModel that only counts its steps."""

    def __init__(self):
        self.steps, self.history = 0, []

    def step(self):
        self.steps += 1
        return {"loss": 0.0}

    def view(self):
        return LiveView("counter", self.steps, None, None)

    def metrics(self):
        return None


def test_overlapping_refreshes_take_each_requested_step_once():
    session = LiveSession({"a": Counter()}, real=None)
    for _ in range(8):
        session.request(100)
    threads = [threading.Thread(target=lambda: [session.advance_requested(30) for _ in range(40)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert session.steps == 800 and session.pending == 0


def test_cancel_drops_what_was_asked():
    session = LiveSession({"a": Counter()}, real=None)
    session.request(50)
    assert session.advance_requested(20) == 20 and session.pending == 30
    session.cancel_requests()
    assert session.advance_requested(20) == 0 and session.steps == 20
