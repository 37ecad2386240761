"""Discrete Bayesian networks and Markov networks: representation and the algorithms the lab
teaches (d-separation, variable elimination, likelihood weighting, mean field, moralisation).

Representation (``network``, ``factor``, ``text_spec``, ``bif``) is kept apart from the
algorithms, one per file (``dseparation``, ``elimination``, ``sampling``, ``mean_field``,
``markov``, ``independencies``).
"""
from .bif import MAX_BIF_BYTES, read_bif_bytes
from .comparison import InferenceComparison, compare_inference, trail_rows
from .dseparation import Trail, TrailStep
from .errors import NetworkError, ZeroProbabilityEvidence
from .examples import example_names, example_text, load_example
from .factor import ProbabilityTable
from .independencies import Independence, independence_gap, local_markov, pairwise_independencies
from .markov import MarkovNetwork, lost_independencies, moral_graph, to_markov_network
from .mean_field import MeanFieldResult, mean_field
from .network import BayesianNetwork
from .sampling import likelihood_weighting, sampling_error_curve
from .text_spec import parse_assignment

__all__ = [
    "BayesianNetwork", "NetworkError", "ZeroProbabilityEvidence", "ProbabilityTable", "Trail", "TrailStep",
    "Independence", "independence_gap", "local_markov", "pairwise_independencies",
    "MarkovNetwork", "lost_independencies", "moral_graph", "to_markov_network",
    "MeanFieldResult", "mean_field", "likelihood_weighting", "sampling_error_curve",
    "example_names", "example_text", "load_example", "parse_assignment",
    "InferenceComparison", "compare_inference", "trail_rows", "MAX_BIF_BYTES", "read_bif_bytes",
]
