"""The lab's side-by-side comparison of the three inference methods on one question:
exact (variable elimination), likelihood weighting and mean field, with the sampling-error
curve. The page and the Space both show exactly this."""
from __future__ import annotations

from dataclasses import dataclass

from .factor import ProbabilityTable
from .mean_field import MeanFieldResult, mean_field
from .sampling import likelihood_weighting, sampling_error_curve

ERROR_CURVE_SIZES = (10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)


@dataclass
class InferenceComparison:
    exact: ProbabilityTable
    sampled: ProbabilityTable
    mean_field: ProbabilityTable  # q of the best restart over the query variables
    mean_field_runs: list[MeanFieldResult]  # best ELBO first
    error_curve: list[tuple[int, float, float]]  # (samples, total variation, effective sample size)


def compare_inference(bn, variables, evidence, n_samples: int, restarts: int, seed: int = 0) -> InferenceComparison:
    variables, evidence = list(variables), dict(evidence)
    exact = bn.query(variables, evidence)
    sampled = likelihood_weighting(bn, variables, evidence, n_samples, seed=seed)
    runs = mean_field(bn, evidence, variables=variables, restarts=restarts, max_sweeps=60)
    sizes = [s for s in ERROR_CURVE_SIZES if s <= n_samples] or [n_samples]
    curve = sampling_error_curve(bn, variables, evidence, exact, sizes, seed=seed)
    return InferenceComparison(exact, sampled, runs[0].marginal(bn, variables), runs, curve)


def trail_rows(bn, x: str, y: str, given, max_trails: int = 100) -> list[dict]:
    """The trails between x and y as table rows: the trail, whether it is active, and why."""
    return [{"trail": str(t), "active": "active" if t.active else "blocked",
             "why": "; ".join(s.reason for s in (t.blockers or t.steps)) or "adjacent nodes"}
            for t in bn.trails(x, y, given, max_trails=max_trails)]
