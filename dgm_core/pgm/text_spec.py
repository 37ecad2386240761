"""A short, human-editable text format for Bayesian networks, which round-trips exactly.

One block per node: a header line ``Name [state, state, ...] | Parent, Parent``, then one
indented line per CPT row. A root's row is just its probabilities; a child's rows are
labelled with the parents' states in header order. A node with no rows gets a uniform CPT,
so a structure can be sketched first and the numbers filled in later. ``#`` starts a comment.

    # The sprinkler network
    Cloudy [no, yes]
        0.5 0.5
    Sprinkler [off, on] | Cloudy
        no:  0.5 0.5
        yes: 0.9 0.1
    Rain [no, yes] | Cloudy
        no:  0.8 0.2
        yes: 0.2 0.8
    WetGrass [dry, wet] | Sprinkler, Rain
        off, no:  1.0  0.0
        off, yes: 0.1  0.9
        on, no:   0.1  0.9
        on, yes:  0.01 0.99
"""
from __future__ import annotations

import itertools
import re

import numpy as np

from .errors import NetworkError

_HEADER = re.compile(r"^(?P<name>[^\s\[|]+)\s*\[(?P<states>[^\]]*)\]\s*(?:\|(?P<parents>.*))?$")


def _split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_text_spec(text: str, name: str = "network"):
    from .network import BayesianNetwork

    blocks: dict[str, dict] = {}
    current = None
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():
            match = _HEADER.match(line.strip())
            if not match:
                raise NetworkError(
                    f"line {line_no}: {line.strip()!r} is not a node header; write "
                    "'Name [state1, state2] | Parent1, Parent2' (the '| parents' part is optional)."
                )
            node = match["name"]
            if node in blocks:
                raise NetworkError(
                    f"line {line_no}: duplicate node {node!r} (first declared on line {blocks[node]['line']})."
                )
            current = blocks[node] = {
                "line": line_no,
                "states": _split_list(match["states"]),
                "parents": _split_list(match["parents"] or ""),
                "rows": [],
            }
        else:
            if current is None:
                raise NetworkError(f"line {line_no}: a CPT row comes before any node header.")
            label, _, numbers = line.strip().rpartition(":")
            try:
                probs = [float(x) for x in numbers.replace(",", " ").split()]
            except ValueError:
                raise NetworkError(
                    f"line {line_no}: {numbers.strip()!r} is not a list of probabilities; write e.g. '0.2 0.8'."
                ) from None
            if not all(np.isfinite(probs)):
                raise NetworkError(
                    f"line {line_no}: the CPT row of {node!r} holds {numbers.strip()!r}; every probability must be "
                    "a finite number between 0 and 1 (nan and inf are not), e.g. '0.2 0.8'."
                )
            current["rows"].append((line_no, tuple(_split_list(label)), probs))

    if not blocks:
        raise NetworkError(
            "The spec has no nodes: it is empty or holds only comments. Write at least one header line such as "
            "'Rain [no, yes]', or choose an example."
        )
    states = {node: b["states"] for node, b in blocks.items()}
    parents = {node: b["parents"] for node, b in blocks.items()}
    cpts = {}
    for node, block in blocks.items():
        if not block["states"]:
            raise NetworkError(f"line {block['line']}: node {node!r} has an empty state list.")
        for p in block["parents"]:
            if p not in states:
                raise NetworkError(
                    f"line {block['line']}: edge {p} -> {node} points from an unknown node {p!r}: "
                    f"declare {p!r} with its own header line."
                )
        cpts[node] = _cpt_from_rows(node, block, states)
    return BayesianNetwork(states, parents, cpts, name=name)


def _cpt_from_rows(node, block, states):
    card = len(block["states"])
    parent_states = [states[p] for p in block["parents"]]
    shape = tuple(len(s) for s in parent_states) + (card,)
    if not block["rows"]:
        return np.full(shape, 1.0 / card)
    table = np.zeros(shape)
    filled = set()
    for line_no, label, probs in block["rows"]:
        if len(label) != len(parent_states):
            want = ", ".join(block["parents"]) if block["parents"] else "no label (the node has no parents)"
            raise NetworkError(f"line {line_no}: the row label of {node!r} must name the states of: {want}.")
        index = []
        for parent, parent_state, valid in zip(block["parents"], label, parent_states):
            if parent_state not in valid:
                raise NetworkError(
                    f"line {line_no}: {parent_state!r} is not a state of {parent!r} (its states: {', '.join(valid)})."
                )
            index.append(valid.index(parent_state))
        if len(probs) != card:
            raise NetworkError(
                f"line {line_no}: {len(probs)} probabilities given, but {node!r} has {card} states."
            )
        if tuple(index) in filled:
            row = f"the row {', '.join(label)}" if label else "the prior"
            raise NetworkError(f"line {line_no}: {row} of {node!r} is given twice.")
        filled.add(tuple(index))
        table[tuple(index)] = probs
    # A root has one row (its prior), always given here, so only a child can miss rows.
    missing = [combo for combo in itertools.product(*parent_states)
               if tuple(s.index(c) for s, c in zip(parent_states, combo)) not in filled]
    if missing:
        raise NetworkError(
            f"line {block['line']}: node {node!r} is missing the CPT row(s) {', '.join(map(', '.join, missing[:3]))}"
            + (" ..." if len(missing) > 3 else "") + ": give every parent combination, or no rows for a uniform CPT."
        )
    return table


def format_text_spec(bn) -> str:
    lines = []
    for node in bn.nodes:
        header = f"{node} [{', '.join(bn.states[node])}]"
        if bn.parents[node]:
            header += " | " + ", ".join(bn.parents[node])
        lines.append(header)
        table = bn.cpts[node]
        parent_states = [bn.states[p] for p in bn.parents[node]]
        for index in np.ndindex(table.shape[:-1]):
            probs = " ".join(repr(float(p)) for p in table[index])
            label = ", ".join(s[i] for s, i in zip(parent_states, index))
            lines.append(f"    {label}: {probs}" if label else f"    {probs}")
    return "\n".join(lines) + "\n"


def parse_assignment(text: str, bn) -> dict[str, str]:
    """Parse evidence such as ``"WetGrass=wet, Cloudy=no"`` and check every name against ``bn``."""
    assignment: dict[str, str] = {}
    for item in _split_list(text or ""):
        variable, eq, state = (part.strip() for part in item.partition("="))
        if not eq or not variable or not state:
            raise NetworkError(f"{item!r} is not of the form Variable=state (e.g. WetGrass=wet).")
        if variable in assignment:
            raise NetworkError(f"{variable!r} is given twice in the evidence.")
        bn.require_state(variable, state)
        assignment[variable] = state
    return assignment
