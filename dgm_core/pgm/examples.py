"""Example networks: small teaching networks written in the text spec, and the classic
networks of the Bayesian Network Repository (bnlearn), shipped as gzipped BIF in
``networks/`` (public data, as distributed with pgmpy under the MIT licence).
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from .network import BayesianNetwork

NETWORKS_DIR = Path(__file__).parent / "networks"

CHAIN = """\
# A chain: smoking causes tar deposits, which cause cancer. Smoking ⟂ Cancer | Tar.
Smoking [no, yes]
    0.7 0.3
Tar [low, high] | Smoking
    no:  0.9 0.1
    yes: 0.2 0.8
Cancer [no, yes] | Tar
    low:  0.98 0.02
    high: 0.85 0.15
"""

FORK = """\
# A fork: heat is a common cause of ice-cream sales and sunburn. IceCream ⟂ Sunburn | Heat.
Heat [mild, hot]
    0.6 0.4
IceCream [low, high] | Heat
    mild: 0.8 0.2
    hot:  0.3 0.7
Sunburn [no, yes] | Heat
    mild: 0.95 0.05
    hot:  0.6 0.4
"""

COLLIDER = """\
# A collider (v-structure): a burglary or an earthquake sets off the alarm.
# Burglary ⟂ Earthquake, but observing Alarm makes them dependent (explaining away).
Burglary [no, yes]
    0.99 0.01
Earthquake [no, yes]
    0.98 0.02
Alarm [off, on] | Burglary, Earthquake
    no, no:   0.999 0.001
    no, yes:  0.71 0.29
    yes, no:  0.06 0.94
    yes, yes: 0.05 0.95
"""

SPRINKLER = """\
# The sprinkler network (Pearl 1988; Russell & Norvig; Murphy's BNT).
Cloudy [no, yes]
    0.5 0.5
Sprinkler [off, on] | Cloudy
    no:  0.5 0.5
    yes: 0.9 0.1
Rain [no, yes] | Cloudy
    no:  0.8 0.2
    yes: 0.2 0.8
WetGrass [dry, wet] | Sprinkler, Rain
    off, no:  1.0 0.0
    off, yes: 0.1 0.9
    on, no:   0.1 0.9
    on, yes:  0.01 0.99
"""

STUDENT = """\
# The student network of Koller & Friedman (2009), Figure 3.4.
Difficulty [easy, hard]
    0.6 0.4
Intelligence [low, high]
    0.7 0.3
Grade [A, B, C] | Intelligence, Difficulty
    low, easy:  0.3 0.4 0.3
    low, hard:  0.05 0.25 0.7
    high, easy: 0.9 0.08 0.02
    high, hard: 0.5 0.3 0.2
SAT [low, high] | Intelligence
    low:  0.95 0.05
    high: 0.2 0.8
Letter [weak, strong] | Grade
    A: 0.1 0.9
    B: 0.4 0.6
    C: 0.99 0.01
"""

SERVER_MONITORING = """\
# Monitoring a web server. Causes: power failure, network failure, high load.
# Effects: the server goes down, responses slow down, the monitor raises an alert,
# users complain.
PowerFailure [no, yes]
    0.98 0.02
NetworkFailure [no, yes]
    0.95 0.05
HighLoad [no, yes]
    0.8 0.2
ServerDown [no, yes] | PowerFailure, HighLoad
    no, no:   0.99 0.01
    no, yes:  0.9 0.1
    yes, no:  0.05 0.95
    yes, yes: 0.02 0.98
SlowResponse [no, yes] | NetworkFailure, HighLoad
    no, no:   0.95 0.05
    no, yes:  0.3 0.7
    yes, no:  0.2 0.8
    yes, yes: 0.05 0.95
Alert [off, on] | ServerDown, SlowResponse
    no, no:   0.99 0.01
    no, yes:  0.6 0.4
    yes, no:  0.05 0.95
    yes, yes: 0.02 0.98
UserComplaint [no, yes] | SlowResponse
    no:  0.97 0.03
    yes: 0.4 0.6
"""

TEACHING = {
    "chain": CHAIN,
    "fork": FORK,
    "collider": COLLIDER,
    "sprinkler": SPRINKLER,
    "student": STUDENT,
    "server-monitoring": SERVER_MONITORING,
}

#: Classic networks, smallest first (the Bayesian Network Repository's names).
CLASSIC = ("cancer", "earthquake", "survey", "asia", "sachs", "child", "insurance", "alarm",
           "hailfinder", "hepar2", "win95pts", "andes", "pigs")


def example_names() -> list[str]:
    return list(TEACHING) + list(CLASSIC)


@cache
def load_example(name: str) -> BayesianNetwork:
    """An example network by name (see :func:`example_names`)."""
    if name in TEACHING:
        return BayesianNetwork.from_text(TEACHING[name], name=name)
    if name in CLASSIC:
        return BayesianNetwork.from_bif(NETWORKS_DIR / f"{name}.bif.gz", name=name)
    raise KeyError(f"Unknown example network {name!r}: choose one of {', '.join(example_names())}.")


def example_text(name: str) -> str:
    """The text spec of an example, comments included for the teaching networks."""
    return TEACHING[name] if name in TEACHING else load_example(name).to_text()


def spec_text(bn: BayesianNetwork) -> str:
    """The text spec to show for ``bn``: an unedited teaching example keeps its comments."""
    if bn.name in TEACHING and bn == load_example(bn.name):
        return TEACHING[bn.name]
    return bn.to_text()


#: The first question to ask of each teaching network: (X, Y, Z) and (query, evidence).
_SUGGESTED = {
    "chain": ((["Smoking"], ["Cancer"], ["Tar"]), (["Smoking"], {"Cancer": "yes"})),
    "fork": ((["IceCream"], ["Sunburn"], ["Heat"]), (["Heat"], {"Sunburn": "yes"})),
    "collider": ((["Burglary"], ["Earthquake"], ["Alarm"]), (["Burglary", "Earthquake"], {"Alarm": "on"})),
    "sprinkler": ((["Sprinkler"], ["Rain"], ["Cloudy", "WetGrass"]), (["Sprinkler", "Rain"], {"WetGrass": "wet"})),
    "student": ((["Difficulty"], ["Intelligence"], ["Letter"]), (["Intelligence"], {"Letter": "strong", "SAT": "low"})),
    "server-monitoring": ((["PowerFailure"], ["HighLoad"], ["Alert"]), (["PowerFailure", "HighLoad"], {"Alert": "on"})),
    "alarm": ((["HYPOVOLEMIA"], ["LVFAILURE"], ["CVP"]), (["HYPOVOLEMIA", "LVFAILURE"], {"HRBP": "HIGH", "BP": "LOW", "PRESS": "HIGH", "CVP": "LOW"})),
    "asia": ((["tub"], ["lung"], ["xray"]), (["lung"], {"xray": "yes", "smoke": "yes"})),
}


def suggested_query(bn: BayesianNetwork) -> tuple[list[str], list[str], list[str]]:
    """A d-separation question worth asking first: the example's own, else two roots given a
    common descendant (a collider lesson), else the first and last nodes."""
    if bn.name in _SUGGESTED:
        x, y, z = _SUGGESTED[bn.name][0]
        if all(n in bn.index for n in x + y + z):
            return list(x), list(y), list(z)
    roots = [n for n in bn.topological_order if not bn.parents[n]]
    if len(roots) >= 2:
        common = (bn.descendants(roots[0]) & bn.descendants(roots[1]))
        below = [n for n in bn.topological_order if n in common][:1]
        return [roots[0]], [roots[1]], below
    order = bn.topological_order
    return [order[0]], ([order[-1]] if len(order) > 1 else []), []


def suggested_evidence(bn: BayesianNetwork) -> tuple[list[str], dict[str, str]]:
    """A posterior query worth running first: the example's own, else the first root given the
    last node in its last state."""
    if bn.name in _SUGGESTED:
        q, e = _SUGGESTED[bn.name][1]
        if all(n in bn.index for n in q) and all(n in bn.index and s in bn.states[n] for n, s in e.items()):
            return list(q), dict(e)
    order = bn.topological_order
    if len(order) == 1:
        return [order[0]], {}
    return [order[0]], {order[-1]: bn.states[order[-1]][-1]}
