"""BIF (Bayesian Interchange Format), as read and written by pgmpy, bnlearn and the
Bayesian Network Repository:

    network asia {
    }
    variable tub {
      type discrete [ 2 ] { yes, no };
    }
    probability ( tub | asia ) {
      (yes) 0.05, 0.95;
      (no) 0.01, 0.99;
    }

A root's CPT is a ``table`` line; a child's rows are labelled with its parents' states and may
come in any order. ``default`` gives the row for every parent combination not listed.
"""
from __future__ import annotations

import gzip
import itertools
import re
from pathlib import Path

import numpy as np

from .errors import NetworkError

_TOKEN = re.compile(r'"[^"]*"|[{}()\[\];,|]|[^\s{}()\[\];,|"]+')


def _read_source(text_or_path) -> tuple[str, str | None]:
    if isinstance(text_or_path, Path) or (
        isinstance(text_or_path, str) and "{" not in text_or_path and text_or_path.strip().endswith((".bif", ".gz"))
    ):
        path = Path(text_or_path)
        if not path.exists():
            raise NetworkError(f"BIF file {str(path)!r} does not exist.")
        raw = path.read_bytes()
        if path.suffix == ".gz":
            try:
                raw = gzip.decompress(raw)
            except OSError as exc:
                raise NetworkError(f"{path} is not a valid gzip file: {exc}.") from None
        try:
            return raw.decode("utf-8"), path.name.split(".")[0]
        except UnicodeDecodeError:
            raise NetworkError(f"{path} is not UTF-8 text: is it really a BIF file?") from None
    if not isinstance(text_or_path, str):
        raise NetworkError("from_bif takes BIF text or a path to a .bif / .bif.gz file.")
    return text_or_path, None


class _Tokens:
    def __init__(self, text: str):
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        self.items = _TOKEN.findall(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def next(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None:
            raise NetworkError(f"BIF ended early{f': expected {expected!r}' if expected else ''}.")
        if expected is not None and tok != expected:
            context = " ".join(self.items[max(0, self.pos - 6): self.pos + 1])
            raise NetworkError(f"BIF syntax: expected {expected!r} but found {tok!r} near '... {context}'.")
        self.pos += 1
        return tok

    def names_until(self, end: str) -> list[str]:
        names = []
        while self.peek() != end:
            tok = self.next()
            if tok != ",":
                names.append(tok)
        self.next(end)
        return names

    def skip_block(self) -> None:
        depth = 0
        while True:
            tok = self.next()
            depth += tok == "{"
            depth -= tok == "}"
            if depth == 0:
                return


def _numbers(tokens: _Tokens, where: str) -> list[float]:
    values = tokens.names_until(";")
    try:
        return [float(v) for v in values]
    except ValueError:
        raise NetworkError(f"BIF: {where} has a value that is not a number: {' '.join(values)}.") from None


def read_bif(text_or_path, name: str | None = None):
    from .network import BayesianNetwork

    text, file_name = _read_source(text_or_path)
    tokens = _Tokens(text)
    network_name = name or file_name or "network"
    states: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    rows: dict[str, tuple[list, list | None, list | None]] = {}
    while tokens.peek() is not None:
        keyword = tokens.next()
        if keyword == "network":
            declared = tokens.next()
            if name is None and file_name is None:
                network_name = declared
            tokens.skip_block()
        elif keyword == "variable":
            var = tokens.next()
            if var in states:
                raise NetworkError(f"BIF: duplicate node {var!r}.")
            tokens.next("{")
            while tokens.peek() != "}":
                word = tokens.next()
                if word == "type":
                    tokens.next("discrete")
                    tokens.next("[")
                    count = int(tokens.next())
                    tokens.next("]")
                    tokens.next("{")
                    states[var] = tokens.names_until("}")
                    tokens.next(";")
                    if len(states[var]) != count:
                        raise NetworkError(
                            f"BIF: variable {var!r} declares {count} states but lists {len(states[var])}."
                        )
                else:  # property lines and anything else we do not use
                    while tokens.next() != ";":
                        pass
            tokens.next("}")
        elif keyword == "probability":
            tokens.next("(")
            head = tokens.names_until(")")
            if "|" in head:
                bar = head.index("|")
                var, var_parents = head[0], head[bar + 1:]
            else:
                var, var_parents = head[0], head[1:]
            if var in parents:
                raise NetworkError(f"BIF: two probability blocks for {var!r}.")
            parents[var] = var_parents
            labelled, table, default = [], None, None
            tokens.next("{")
            while tokens.peek() != "}":
                word = tokens.next()
                if word == "(":
                    label = tokens.names_until(")")
                    labelled.append((label, _numbers(tokens, f"a row of P({var} | ...)")))
                elif word == "table":
                    table = _numbers(tokens, f"the table of {var!r}")
                elif word == "default":
                    default = _numbers(tokens, f"the default row of {var!r}")
                else:
                    raise NetworkError(f"BIF: unexpected {word!r} in the probability block of {var!r}.")
            tokens.next("}")
            rows[var] = (labelled, table, default)
        else:
            raise NetworkError(f"BIF: unexpected {keyword!r}; expected 'network', 'variable' or 'probability'.")

    for var in parents:
        if var not in states:
            raise NetworkError(f"BIF: a probability block is given for {var!r}, which is not declared as a variable.")
    missing = [v for v in states if v not in parents]
    if missing:
        raise NetworkError(f"BIF: no probability block for {', '.join(missing)}.")
    for var, pa in parents.items():
        for p in pa:
            if p not in states:
                raise NetworkError(f"BIF: edge {p} -> {var} points from an unknown node {p!r}.")
    cpts = {var: _cpt(var, parents[var], states, *rows[var]) for var in states}
    return BayesianNetwork(states, {v: parents[v] for v in states}, cpts, name=network_name)


def _cpt(var, var_parents, states, labelled, table, default):
    card = len(states[var])
    parent_states = [states[p] for p in var_parents]
    shape = tuple(len(s) for s in parent_states) + (card,)
    if not var_parents:
        if table is None:
            raise NetworkError(f"BIF: the root {var!r} needs a 'table' line.")
        if len(table) != card:
            raise NetworkError(f"BIF: the table of {var!r} has {len(table)} values for {card} states.")
        return np.array(table)
    if table is not None:
        raise NetworkError(
            f"BIF: {var!r} has parents but gives a bare 'table'; write one labelled row per parent combination."
        )
    cpt = np.full(shape, np.nan)
    for label, values in labelled:
        if len(label) != len(var_parents):
            raise NetworkError(f"BIF: the row ({', '.join(label)}) of {var!r} must name {len(var_parents)} parent states.")
        try:
            index = tuple(s.index(x) for s, x in zip(parent_states, label))
        except ValueError:
            raise NetworkError(f"BIF: the row ({', '.join(label)}) of {var!r} names an unknown parent state.") from None
        if len(values) != card:
            raise NetworkError(f"BIF: the row ({', '.join(label)}) of {var!r} has {len(values)} values for {card} states.")
        cpt[index] = values
    for combo in itertools.product(*(range(n) for n in shape[:-1])):
        if np.isnan(cpt[combo]).any():
            if default is None:
                label = ", ".join(s[i] for s, i in zip(parent_states, combo))
                raise NetworkError(f"BIF: the row ({label}) of {var!r} is missing and no default is given.")
            cpt[combo] = default
    return cpt


def write_bif(bn) -> str:
    name = bn.name if re.fullmatch(r"[A-Za-z0-9_\-]+", bn.name or "") else "unknown"
    out = [f"network {name} {{", "}"]
    for var in bn.nodes:
        out += [f"variable {var} {{",
                f"  type discrete [ {len(bn.states[var])} ] {{ {', '.join(bn.states[var])} }};", "}"]
    for var in bn.nodes:
        pa = bn.parents[var]
        head = f"{var} | {', '.join(pa)}" if pa else var
        out.append(f"probability ( {head} ) {{")
        table = bn.cpts[var]
        if not pa:
            out.append(f"  table {', '.join(repr(float(p)) for p in table)};")
        else:
            for index in np.ndindex(table.shape[:-1]):
                label = ", ".join(bn.states[p][i] for p, i in zip(pa, index))
                out.append(f"  ({label}) {', '.join(repr(float(p)) for p in table[index])};")
        out.append("}")
    return "\n".join(out) + "\n"
