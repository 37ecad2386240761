"""Factors over discrete variables, and the probability tables that queries return.

A factor phi(X_1..X_k) is a non-negative array with one named axis per variable. Inference
only needs three operations on them (Koller & Friedman 2009, §9.2): the product
(phi1 * phi2)(x ∪ y) = phi1(x) phi2(y), summing a variable out, and reducing to evidence.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Factor:
    variables: tuple[str, ...]
    values: np.ndarray

    def reduce(self, evidence: Mapping[str, int]) -> Factor:
        """Keep only the slice consistent with ``evidence`` (variable -> state index)."""
        index = tuple(evidence.get(v, slice(None)) for v in self.variables)
        kept = tuple(v for v in self.variables if v not in evidence)
        return Factor(kept, self.values[index])


def product(factors: Sequence[Factor]) -> Factor:
    """The product of factors over the union of their scopes, by numpy broadcasting."""
    scope: list[str] = []
    for f in factors:
        scope.extend(v for v in f.variables if v not in scope)
    result = np.ones((1,) * len(scope))
    for f in factors:
        # Put the factor's axes in scope order, then give it size-1 axes for the rest.
        order = sorted(range(len(f.variables)), key=lambda i: scope.index(f.variables[i]))
        values = np.transpose(f.values, order)
        shape = [1] * len(scope)
        for i in order:
            shape[scope.index(f.variables[i])] = f.values.shape[i]
        result = result * values.reshape(shape)
    return Factor(tuple(scope), result)


def sum_out(factor: Factor, variables) -> Factor:
    axes = tuple(i for i, v in enumerate(factor.variables) if v in variables)
    kept = tuple(v for v in factor.variables if v not in variables)
    return Factor(kept, factor.values.sum(axis=axes))


class ProbabilityTable:
    """A distribution over a few variables, readable by state name.

    ``table["yes"]`` for one variable, ``table["yes", "high"]`` or
    ``table[{"Rain": "yes", "Alert": "high"}]`` for several; ``table.values`` is the array
    with one axis per variable in ``table.variables``.
    """

    def __init__(self, variables: Sequence[str], states: Sequence[Sequence[str]], values: np.ndarray):
        self.variables = tuple(variables)
        self.states = tuple(tuple(s) for s in states)
        self.values = np.asarray(values, dtype=float)
        if self.values.shape != tuple(len(s) for s in self.states):
            raise ValueError("values do not match the variables' state counts")

    def _index(self, key) -> tuple[int, ...]:
        if isinstance(key, Mapping):
            if set(key) != set(self.variables):
                raise KeyError(f"give a state for each of {', '.join(self.variables)}")
            key = tuple(key[v] for v in self.variables)
        elif not isinstance(key, tuple):
            key = (key,)
        if len(key) != len(self.variables):
            raise KeyError(f"give one state for each of {', '.join(self.variables)}")
        index = []
        for var, states, state in zip(self.variables, self.states, key):
            if state not in states:
                raise KeyError(f"{state!r} is not a state of {var!r}; its states are {', '.join(states)}")
            index.append(states.index(state))
        return tuple(index)

    def __getitem__(self, key) -> float:
        return float(self.values[self._index(key)])

    def items(self):
        """(assignment tuple, probability) pairs in row-major order."""
        for index in np.ndindex(self.values.shape):
            yield tuple(s[i] for s, i in zip(self.states, index)), float(self.values[index])

    def to_dict(self) -> dict:
        if len(self.variables) == 1:
            return {k[0]: p for k, p in self.items()}
        return dict(self.items())

    def to_frame(self):
        import pandas as pd

        rows = [dict(zip(self.variables, k), probability=p) for k, p in self.items()]
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        cells = ", ".join(f"{'/'.join(k)}: {p:.4g}" for k, p in self.items())
        return f"P({', '.join(self.variables)}) = {{{cells}}}"
