"""Discrete Bayesian networks: the representation.

A Bayesian network over variables X_1..X_n is a DAG G and one conditional probability
table (CPT) per node, and it defines the joint distribution (Koller & Friedman 2009, eq. 3.17)

    P(x_1, ..., x_n) = prod_i P(x_i | pa(x_i)).

This module holds the representation only: nodes, their state names, the DAG and the CPTs,
validated once when a network is built or edited. The algorithms live one per file beside
it (``dseparation``, ``elimination``, ``sampling``, ``mean_field``, ``markov``,
``independencies``); the methods below are thin doors into them so that the public API reads
``bn.d_separated(x, y, given)`` and ``bn.query(variables, evidence)``.

A network is immutable: every edit (``with_edge``, ``without_node``, ``with_cpt`` ...) returns a
new, validated network, so a user interface can keep the last valid network when an edit fails.

CPT layout: ``cpts[v]`` has shape ``(|pa_1|, ..., |pa_k|, |v|)`` with the parents in the
order of ``parents[v]``; the last axis is the node's own distribution and sums to one.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from . import dseparation, elimination
from .errors import NetworkError

#: Characters that cannot appear in node or state names (they delimit the text spec and BIF).
_FORBIDDEN = re.compile(r"[\s,|\[\]:(){};#\"']")

#: A CPT row may miss 1 by this much (the classic BIF files are rounded to ~1e-7); rows are
#: then renormalised exactly so that every computation downstream is a true distribution.
ROW_SUM_TOLERANCE = 1e-6


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise NetworkError(f"{what} name {name!r} is invalid: use a non-empty string.")
    if _FORBIDDEN.search(name):
        raise NetworkError(
            f"{what} name {name!r} is invalid: it may not contain spaces or any of "
            ", | [ ] : ( ) { } ; # or quotes. Use letters, digits, _ or - instead."
        )
    return name


class BayesianNetwork:
    """A discrete Bayesian network: named nodes with finite state names, a DAG, one CPT per node.

    Parameters
    ----------
    states : mapping node -> sequence of state names, in the order the nodes should be listed.
    parents : mapping node -> sequence of parent nodes (missing nodes have no parents).
    cpts : mapping node -> array of shape (*parent cardinalities, own cardinality).
        ``None`` gives every node a uniform CPT (useful for structure-only lessons).
    name : a label shown in the user interface.

    Raises :class:`NetworkError` for a duplicate node, an empty state list, an edge to an
    unknown node, a self-loop, a cycle (the message names it), a CPT of the wrong shape,
    a negative probability, or a CPT row that does not sum to one.
    """

    def __init__(
        self,
        states: Mapping[str, Sequence[str]],
        parents: Mapping[str, Sequence[str]] | None = None,
        cpts: Mapping[str, object] | None = None,
        name: str = "network",
    ):
        self.name = name
        if not states:
            raise NetworkError("A Bayesian network needs at least one node: add one, or load an example.")
        self.states: dict[str, tuple[str, ...]] = {}
        for node, node_states in states.items():
            _check_name(node, "Node")
            node_states = tuple(node_states)
            if not node_states:
                raise NetworkError(f"Node {node!r} has an empty state list: give it at least one state.")
            for s in node_states:
                _check_name(s, f"State of node {node!r}:")
            if len(set(node_states)) != len(node_states):
                dup = sorted({s for s in node_states if node_states.count(s) > 1})
                raise NetworkError(f"Node {node!r} lists the state(s) {dup} twice: state names must be unique.")
            self.states[node] = node_states
        self.nodes: tuple[str, ...] = tuple(self.states)

        parents = dict(parents or {})
        for node in parents:
            if node not in self.states:
                raise NetworkError(f"Parents were given for {node!r}, which is not a node of the network.")
        self.parents: dict[str, tuple[str, ...]] = {}
        for node in self.nodes:
            pa = tuple(parents.get(node, ()))
            for p in pa:
                if p == node:
                    raise NetworkError(f"Self-loop {node} -> {node}: a node cannot be its own parent.")
                if p not in self.states:
                    raise NetworkError(
                        f"Edge {p} -> {node} points from an unknown node {p!r}: add {p!r} as a node first."
                    )
            if len(set(pa)) != len(pa):
                raise NetworkError(f"Node {node!r} lists a parent twice: {list(pa)}.")
            self.parents[node] = pa

        # Integer adjacency, built once: the graph algorithms run on these lists.
        self.index = {n: i for i, n in enumerate(self.nodes)}
        self.parent_ids: list[list[int]] = [[self.index[p] for p in self.parents[n]] for n in self.nodes]
        self.child_ids: list[list[int]] = [[] for _ in self.nodes]
        for i, pa in enumerate(self.parent_ids):
            for p in pa:
                self.child_ids[p].append(i)
        self.topological_order: tuple[str, ...] = tuple(self.nodes[i] for i in self._topological_ids())

        self.cpts: dict[str, np.ndarray] = {}
        for node in self.nodes:
            table = None if cpts is None else cpts.get(node)
            self.cpts[node] = self._validated_cpt(node, table, uniform_if_missing=cpts is None)

    # ------------------------------------------------------------------ construction
    def _topological_ids(self) -> list[int]:
        """Kahn's algorithm; on failure, name one directed cycle."""
        indegree = [len(pa) for pa in self.parent_ids]
        ready = [i for i, d in enumerate(indegree) if d == 0]
        order = []
        while ready:
            i = ready.pop()
            order.append(i)
            for c in self.child_ids[i]:
                indegree[c] -= 1
                if indegree[c] == 0:
                    ready.append(c)
        if len(order) < len(self.nodes):
            cycle = self._find_cycle({i for i, d in enumerate(indegree) if d > 0})
            raise NetworkError(
                "The graph has a directed cycle " + " -> ".join(cycle + [cycle[0]])
                + ": a Bayesian network must be acyclic; remove or reverse one of these edges."
            )
        return order

    def _find_cycle(self, remaining: set[int]) -> list[str]:
        # Every node left by Kahn's algorithm has a parent that is also left: walk up until repeat.
        start = next(iter(remaining))
        seen: dict[int, int] = {}
        walk = []
        node = start
        while node not in seen:
            seen[node] = len(walk)
            walk.append(node)
            node = next(p for p in self.parent_ids[node] if p in remaining)
        cycle_up = walk[seen[node]:]
        return [self.nodes[i] for i in reversed(cycle_up)]

    def _validated_cpt(self, node: str, table, uniform_if_missing: bool) -> np.ndarray:
        shape = tuple(len(self.states[p]) for p in self.parents[node]) + (len(self.states[node]),)
        if table is None:
            if not uniform_if_missing:
                raise NetworkError(f"Node {node!r} has no CPT: give one of shape {shape}.")
            return np.full(shape, 1.0 / shape[-1])
        try:
            table = np.array(table, dtype=float)
        except (TypeError, ValueError) as exc:
            raise NetworkError(f"The CPT of {node!r} is not numeric: {exc}.") from None
        if table.shape != shape:
            parents = ", ".join(self.parents[node]) or "no parents"
            raise NetworkError(
                f"The CPT of {node!r} has shape {table.shape} but must have shape {shape} "
                f"(one axis per parent: {parents}; last axis: the {shape[-1]} states of {node!r})."
            )
        if not np.all(np.isfinite(table)):
            raise NetworkError(f"The CPT of {node!r} contains a NaN or infinite value.")
        if np.any(table < 0):
            idx = tuple(int(i) for i in np.argwhere(table < 0)[0])
            raise NetworkError(
                f"The CPT of {node!r} has a negative probability {table[idx]:g} at "
                f"{self._describe_row(node, idx[:-1])}: probabilities must be >= 0."
            )
        sums = table.sum(axis=-1)
        bad = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
        if np.any(bad):
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            terms = " + ".join(f"{p:.6g}" for p in table[idx])
            raise NetworkError(
                f"The CPT row of {node!r} for {self._describe_row(node, idx)} sums to {sums[idx]:.6g} ({terms}), "
                "not 1: each row P(node | parents) must sum to one."
            )
        # Renormalise only rows that are visibly off, so that exact rows (and text round trips)
        # keep their values bit for bit.
        off = np.abs(sums - 1.0) > 1e-12
        return np.where(off[..., None], table / sums[..., None], table)

    def _describe_row(self, node: str, parent_index: tuple[int, ...]) -> str:
        if not self.parents[node]:
            return "its prior"
        return ", ".join(f"{p}={self.states[p][k]}" for p, k in zip(self.parents[node], parent_index))

    @classmethod
    def from_edges(
        cls,
        edges: Iterable[tuple[str, str]],
        nodes: Iterable[str] = (),
        states: Sequence[str] = ("0", "1"),
        name: str = "network",
    ) -> BayesianNetwork:
        """A structure-only network: binary states ``("0", "1")`` and uniform CPTs by default.

        ``nodes`` adds isolated nodes and fixes the listing order; edges are ``(parent, child)``.
        """
        order: dict[str, None] = dict.fromkeys(nodes)
        parents: dict[str, list[str]] = {}
        for edge in edges:
            try:
                u, v = edge
            except (TypeError, ValueError):
                raise NetworkError(f"Edge {edge!r} is not a (parent, child) pair.") from None
            order.setdefault(u)
            order.setdefault(v)
            if u in parents.get(v, []):
                raise NetworkError(f"Edge {u} -> {v} is listed twice.")
            parents.setdefault(v, []).append(u)
        return cls({n: tuple(states) for n in order}, parents, None, name=name)

    @classmethod
    def from_text(cls, text: str, name: str = "network") -> BayesianNetwork:
        """Parse the human-editable text spec (see :mod:`dgm_core.pgm.text_spec`)."""
        from .text_spec import parse_text_spec

        return parse_text_spec(text, name=name)

    def to_text(self) -> str:
        from .text_spec import format_text_spec

        return format_text_spec(self)

    @classmethod
    def from_bif(cls, text_or_path, name: str | None = None) -> BayesianNetwork:
        """Read BIF, the exchange format of pgmpy and bnlearn, from a string or a (.gz) path."""
        from .bif import read_bif

        return read_bif(text_or_path, name=name)

    def to_bif(self) -> str:
        from .bif import write_bif

        return write_bif(self)

    # ------------------------------------------------------------------ editing (returns new networks)
    def _rebuild(self, states=None, parents=None, cpts=None) -> BayesianNetwork:
        return BayesianNetwork(
            self.states if states is None else states,
            self.parents if parents is None else parents,
            self.cpts if cpts is None else cpts,
            name=self.name,
        )

    def with_node(self, node: str, states: Sequence[str] = ("0", "1")) -> BayesianNetwork:
        """Add a root node with a uniform prior."""
        _check_name(node, "Node")
        if node in self.states:
            raise NetworkError(f"Duplicate node: {node!r} is already in the network; choose another name.")
        new_states = {**self.states, node: tuple(states)}
        if not new_states[node]:
            raise NetworkError(f"Node {node!r} has an empty state list: give it at least one state.")
        return self._rebuild(new_states, None, {**self.cpts, node: np.full(len(states), 1.0 / len(states))})

    def without_node(self, node: str) -> BayesianNetwork:
        """Remove a node; each child's CPT is averaged (uniformly) over the removed parent."""
        self._require_node(node)
        if len(self.nodes) == 1:
            raise NetworkError(f"Cannot remove {node!r}: it is the only node, and a network needs at least one. "
                               "Add another node first, or load an example.")
        states = {n: s for n, s in self.states.items() if n != node}
        parents, cpts = {}, {}
        for n in states:
            pa = list(self.parents[n])
            table = self.cpts[n]
            if node in pa:
                table = table.mean(axis=pa.index(node))
                pa.remove(node)
            parents[n], cpts[n] = pa, table
        return self._rebuild(states, parents, cpts)

    def with_edge(self, parent: str, child: str) -> BayesianNetwork:
        """Add ``parent -> child``. The child's CPT is copied across the new parent's states, so
        the numbers do not change: a lesson in d-connection without dependence until edited."""
        self._require_node(parent)
        self._require_node(child)
        if parent in self.parents[child]:
            raise NetworkError(f"Edge {parent} -> {child} already exists.")
        table = self.cpts[child]
        k = len(self.parents[child])
        table = np.repeat(np.expand_dims(table, k), len(self.states[parent]), axis=k)
        parents = {**self.parents, child: self.parents[child] + (parent,)}
        return self._rebuild(None, parents, {**self.cpts, child: table})

    def without_edge(self, parent: str, child: str) -> BayesianNetwork:
        """Remove ``parent -> child``; the child's CPT is averaged (uniformly) over that parent."""
        self._require_node(child)
        if parent not in self.parents[child]:
            raise NetworkError(f"There is no edge {parent} -> {child} to remove.")
        pa = list(self.parents[child])
        table = self.cpts[child].mean(axis=pa.index(parent))
        pa.remove(parent)
        return self._rebuild(None, {**self.parents, child: pa}, {**self.cpts, child: table})

    def with_cpt(self, node: str, table) -> BayesianNetwork:
        """Replace one CPT (validated: shape, non-negative, rows summing to one)."""
        self._require_node(node)
        return self._rebuild(None, None, {**self.cpts, node: table})

    def cpt_frame(self, node: str):
        """The CPT as a table for editing: one row per parent combination, one column per state."""
        import pandas as pd

        self._require_node(node)
        table = self.cpts[node]
        rows = [", ".join(f"{p}={self.states[p][i]}" for p, i in zip(self.parents[node], idx)) or "prior"
                for idx in np.ndindex(table.shape[:-1])]
        return pd.DataFrame(table.reshape(-1, table.shape[-1]), index=rows, columns=list(self.states[node]))

    def with_cpt_frame(self, node: str, frame) -> BayesianNetwork:
        """Replace a CPT from an edited :meth:`cpt_frame` (same rows and columns)."""
        self._require_node(node)
        expected = self.cpt_frame(node)
        if list(frame.columns) != list(expected.columns) or len(frame) != len(expected):
            raise NetworkError(f"The edited table of {node!r} must keep its {len(expected)} rows and the columns "
                               f"{', '.join(expected.columns)}.")
        try:
            values = frame.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise NetworkError(f"The CPT of {node!r} has a cell that is not a number.") from None
        if np.isnan(values).any():
            raise NetworkError(f"The CPT of {node!r} has an empty cell: fill in every probability.")
        return self.with_cpt(node, values.reshape(self.cpts[node].shape))

    def with_cpt_edits(self, node: str, edited_rows: Mapping[int, Mapping[str, object]]) -> BayesianNetwork:
        """Replace cells of one CPT as a table editor reports them: ``{row position: {state: value}}``.

        Rows and columns are those of :meth:`cpt_frame` (one row per parent combination, one
        column per state of ``node``). The edits apply to this network's CPT, so the result is
        exactly what the editor shows; values may be numbers or numeric strings. The new table
        is validated like any CPT, so a row that no longer sums to one is refused with its values.
        """
        self._require_node(node)
        shape = self.cpts[node].shape
        table = np.array(self.cpts[node], dtype=float).reshape(-1, shape[-1])
        rows = self.cpt_frame(node).index
        for row, changes in edited_rows.items():
            row = int(row)
            if not 0 <= row < len(table):
                raise NetworkError(f"The CPT of {node!r} has no row {row}: it has {len(table)} row(s).")
            for state, value in changes.items():
                if state not in self.states[node]:
                    raise NetworkError(f"The CPT of {node!r} has no column {state!r}: its columns are its states "
                                       f"{', '.join(self.states[node])}.")
                where = f"column {state!r} of the row {rows[row]!r} in the CPT of {node!r}"
                if value is None or (isinstance(value, str) and not value.strip()):
                    raise NetworkError(f"The {where} is empty: type a probability between 0 and 1.")
                try:
                    table[row, self.states[node].index(state)] = float(value)
                except (TypeError, ValueError):
                    raise NetworkError(f"{value!r} is not a number (the {where}): "
                                       "type a probability between 0 and 1.") from None
        return self.with_cpt(node, table.reshape(shape))

    def renamed(self, name: str) -> BayesianNetwork:
        return self._rebuild() if name == self.name else BayesianNetwork(self.states, self.parents, self.cpts, name)

    # ------------------------------------------------------------------ graph accessors
    def _require_node(self, node: str) -> None:
        if node not in self.index:
            raise NetworkError(f"Unknown variable {node!r}: the network's nodes are {', '.join(self.nodes)}.")

    def require_state(self, node: str, state: str) -> int:
        """The index of ``state`` in ``node``'s states, or a clear error naming the valid ones."""
        self._require_node(node)
        try:
            return self.states[node].index(state)
        except ValueError:
            raise NetworkError(
                f"Unknown state {state!r} of {node!r}: its states are {', '.join(self.states[node])}."
            ) from None

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(p, n) for n in self.nodes for p in self.parents[n]]

    def children(self, node: str) -> tuple[str, ...]:
        self._require_node(node)
        return tuple(self.nodes[c] for c in self.child_ids[self.index[node]])

    def descendants(self, node: str) -> set[str]:
        self._require_node(node)
        return {self.nodes[i] for i in dseparation.reach(self.child_ids, [self.index[node]])} - {node}

    def ancestors(self, nodes: str | Iterable[str]) -> set[str]:
        ids = [self.index[n] for n in self._as_set(nodes)]
        return {self.nodes[i] for i in dseparation.reach(self.parent_ids, ids)} - set(self._as_set(nodes))

    def _as_set(self, nodes: str | Iterable[str] | None) -> list[str]:
        if nodes is None:
            return []
        names = [nodes] if isinstance(nodes, str) else list(nodes)
        for n in names:
            self._require_node(n)
        return list(dict.fromkeys(names))

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"BayesianNetwork({self.name!r}, {len(self.nodes)} nodes, {len(self.edges)} edges)"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BayesianNetwork)
            and self.states == other.states
            and self.parents == other.parents
            and all(np.allclose(self.cpts[n], other.cpts[n], rtol=0, atol=1e-12) for n in self.nodes)
        )

    __hash__ = None  # mutable numpy contents: not hashable

    # ------------------------------------------------------------------ d-separation
    def d_separated(self, x, y, given=()) -> bool:
        """Is X ⟂ Y | Z in every distribution that factorises over the graph? (Bayes-ball)."""
        xs, ys, zs = self._query_sets(x, y, given)
        return dseparation.find_active_trail(self.parent_ids, self.child_ids, xs, ys, zs, record=False) is None

    def active_trail(self, x, y, given=()) -> list[str] | None:
        """One active trail from a node of X to a node of Y given Z, as node names; None if separated."""
        xs, ys, zs = self._query_sets(x, y, given)
        path = dseparation.find_active_trail(self.parent_ids, self.child_ids, xs, ys, zs, record=True)
        return None if path is None else [self.nodes[i] for i in path]

    def trails(self, x: str, y: str, given=(), max_trails: int = 200):
        """Every simple trail between two nodes, each with whether it is active and why not."""
        xs, ys, zs = self._query_sets(x, y, given)
        return dseparation.explain_trails(self, self.nodes[xs[0]], self.nodes[ys[0]], [self.nodes[z] for z in zs], max_trails)

    def _query_sets(self, x, y, given) -> tuple[list[int], list[int], list[int]]:
        xs, ys, zs = self._as_set(x), self._as_set(y), self._as_set(given)
        if not xs or not ys:
            raise NetworkError("Choose at least one node for X and one for Y.")
        for a, b, la, lb in ((xs, ys, "X", "Y"), (xs, zs, "X", "Z"), (ys, zs, "Y", "Z")):
            common = set(a) & set(b)
            if common:
                raise NetworkError(
                    f"{la} and {lb} share {', '.join(sorted(common))}: the three sets of an "
                    "independence query must be disjoint."
                )
        return [self.index[n] for n in xs], [self.index[n] for n in ys], [self.index[n] for n in zs]

    # ------------------------------------------------------------------ probabilities
    def joint_probability(self, assignment: Mapping[str, str]) -> float:
        """P(x_1..x_n) = prod_i P(x_i | pa(x_i)) for a full assignment of every node."""
        missing = [n for n in self.nodes if n not in assignment]
        if missing:
            raise NetworkError(f"A full joint assignment needs every node; missing: {', '.join(missing)}.")
        for n in assignment:
            self._require_node(n)
        idx = {n: self.require_state(n, assignment[n]) for n in self.nodes}
        p = 1.0
        for n in self.nodes:
            p *= float(self.cpts[n][tuple(idx[q] for q in self.parents[n]) + (idx[n],)])
        return p

    def query(self, variables, evidence: Mapping[str, str] | None = None, order: str = "min-fill"):
        """The exact posterior P(variables | evidence) by variable elimination.

        Returns a :class:`~dgm_core.pgm.factor.ProbabilityTable`; read it by state name:
        ``bn.query(["Rain"], {"WetGrass": "wet"})["yes"]``.
        """
        return elimination.query(self, self._as_set(variables), self._checked_evidence(evidence), order=order)

    def marginal(self, node: str):
        return self.query([node])

    def probability_of_evidence(self, evidence: Mapping[str, str]) -> float:
        """P(e), summing out every other variable by variable elimination."""
        return elimination.probability_of_evidence(self, self._checked_evidence(evidence))

    def _checked_evidence(self, evidence: Mapping[str, str] | None) -> dict[str, str]:
        evidence = dict(evidence or {})
        for n, s in evidence.items():
            self.require_state(n, s)
        return evidence
