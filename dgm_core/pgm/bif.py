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

import itertools
import math
import re
import zlib
from pathlib import Path

import numpy as np

from .errors import NetworkError

_TOKEN = re.compile(r'"[^"]*"|[{}()\[\];,|]|[^\s{}()\[\];,|"]+')


#: The largest BIF file the lab reads from an upload (pigs, the largest shipped network, is 0.2 MB
#: gzipped and 1.4 MB as text). The Streamlit server's upload limit (.streamlit/config.toml) matches it.
MAX_BIF_BYTES = 5 * 2**20

_GZIP_MAGIC = b"\x1f\x8b"


def _decode(raw: bytes, label: str) -> str:
    """Bytes to text, with a plain message for a file that is not text (utf-8-sig drops a BOM)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NetworkError(
            f"{label} is not a text file (byte {exc.start} is not UTF-8 text). A BIF file is plain text, as "
            "written by pgmpy, bnlearn or this lab's 'Download BIF'; a .bif.gz is that text compressed with gzip."
        ) from None


#: Decompressed in pieces of this size, so a file is refused as soon as its text passes the limit.
_GUNZIP_CHUNK = 2**16


def _gunzip(raw: bytes, label: str, limit: int | None = MAX_BIF_BYTES) -> bytes:
    """The text inside a gzip file, judged by what it expands to: decompression stops, and the file is
    refused, as soon as the text passes `limit` bytes (a 50 kB file can expand to gigabytes). Time and
    memory stay bounded by the limit, whatever the file claims. Every member of a multi-member file is read."""
    if not raw.startswith(_GZIP_MAGIC):
        raise NetworkError(
            f"{label} is not a gzip-compressed file, although its name ends in .gz. Load the plain .bif file, "
            "or compress it with gzip first."
        )
    out, size, data = [], 0, raw
    try:
        while data:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)      # one gzip member
            while data and not inflater.eof:
                piece = inflater.decompress(data, _GUNZIP_CHUNK)
                data = inflater.unconsumed_tail
                size += len(piece)
                if limit is not None and size > limit:
                    raise NetworkError(f"{label} expands to more than {limit // 2**20} MB of text (the limit for a "
                                       "BIF file, compressed or not); it was refused before reading further. Load a "
                                       "smaller network.")
                out.append(piece)
                if not piece and not data:
                    break
            if not inflater.eof:
                raise EOFError("the compressed data ends early")
            data = inflater.unused_data.lstrip(b"\0")                  # the next member, if any
            if data and not data.startswith(_GZIP_MAGIC):
                raise zlib.error("trailing data that is not gzip")
    except (OSError, EOFError, zlib.error):
        raise NetworkError(f"{label} is a damaged gzip file (it ends early or its data is corrupt): "
                           "compress the .bif file again.") from None
    return b"".join(out)


def read_bif_bytes(data: bytes, file_name: str):
    """A network from the bytes of an uploaded ``.bif`` or ``.bif.gz`` file, named after the file.

    Every failure is a :class:`NetworkError` whose message starts with the file name and, for a
    syntax error, the line: too large, not gzip, not text, no variables, or invalid BIF.
    """
    if len(data) > MAX_BIF_BYTES:
        raise NetworkError(f"{file_name} is {len(data) / 2**20:.1f} MB; the limit is {MAX_BIF_BYTES // 2**20} MB. "
                           "Load a smaller network.")
    raw = _gunzip(data, file_name) if file_name.lower().endswith(".gz") else data
    return read_bif(_decode(raw, file_name), name=file_name.split(".")[0] or "network", source=file_name)


def _read_source(text_or_path) -> tuple[str, str | None, str | None]:
    """The BIF text, the network name a file gives, and the label errors start with."""
    if isinstance(text_or_path, Path) or (
        isinstance(text_or_path, str) and "{" not in text_or_path and text_or_path.strip().endswith((".bif", ".gz"))
    ):
        path = Path(text_or_path)
        if not path.exists():
            raise NetworkError(f"BIF file {str(path)!r} does not exist.")
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = _gunzip(raw, str(path), limit=None)      # the lab's own files, not an upload
        return _decode(raw, str(path)), path.name.split(".")[0], path.name
    if not isinstance(text_or_path, str):
        raise NetworkError("from_bif takes BIF text or a path to a .bif / .bif.gz file.")
    return text_or_path, None, None


class _Tokens:
    """The tokens of a BIF text with their line numbers, so every syntax error can name its line."""

    #: Tokens that end or open a block; they never appear inside a list of names or numbers.
    STRUCTURAL = frozenset("{}();")

    def __init__(self, text: str, source: str | None):
        # Comments become blanks that keep their line breaks, so line numbers stay true.
        text = re.sub(r"/\*.*?\*/", lambda m: " " + "\n" * m.group().count("\n"), text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        self.items, self.lines = [], []
        line, last = 1, 0
        for match in _TOKEN.finditer(text):
            line += text.count("\n", last, match.start())
            last = match.start()
            self.items.append(match.group())
            self.lines.append(line)
        self.pos = 0
        self.source = source

    def line(self) -> int:
        """The line of the current token (of the last one once the text is used up)."""
        if not self.lines:
            return 1
        return self.lines[min(self.pos, len(self.lines) - 1)]

    def error(self, message: str, line: int | None = None) -> NetworkError:
        where = f"line {self.line() if line is None else line}"
        return NetworkError(f"{self.source}, {where}: {message}" if self.source else f"{where}: {message}")

    def peek(self) -> str | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def next(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None:
            raise self.error(f"the BIF text ended early{f': expected {expected!r}' if expected else ''}.")
        if expected is not None and tok != expected:
            context = " ".join(self.items[max(0, self.pos - 6): self.pos + 1])
            raise self.error(f"expected {expected!r} but found {tok!r} (near '... {context}').")
        self.pos += 1
        return tok

    def names_until(self, end: str) -> list[str]:
        names = []
        while self.peek() != end:
            if self.peek() in self.STRUCTURAL:
                self.next(end)  # raises: expected `end`
            tok = self.next()
            if tok != ",":
                names.append(tok)
        self.next(end)
        return names

    def numbers_until_semicolon(self, where: str) -> list[float]:
        values = []
        while self.peek() != ";":
            if self.peek() in self.STRUCTURAL:
                self.next(";")  # raises: expected ';'
            line, tok = self.line(), self.next()
            if tok == ",":
                continue
            try:
                value = float(tok)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise self.error(f"{where} has {tok!r}, which is not a number between 0 and 1.", line)
            values.append(value)
        self.next(";")
        return values

    def skip_block(self) -> None:
        depth = 0
        while True:
            tok = self.next()
            depth += tok == "{"
            depth -= tok == "}"
            if depth == 0:
                return


def read_bif(text_or_path, name: str | None = None, source: str | None = None):
    """Parse BIF text (or a path to a .bif / .bif.gz file) into a :class:`BayesianNetwork`.

    ``source`` (a file name) starts every error message; syntax errors also give the line.
    """
    from .network import BayesianNetwork

    text, file_name, path_label = _read_source(text_or_path)
    tokens = _Tokens(text, source or path_label)
    network_name = name or file_name or "network"
    states: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    rows: dict[str, tuple[list, list | None, list | None, int]] = {}  # labelled rows, table, default, line
    declared_on: dict[str, int] = {}  # variable -> the line of its declaration or probability block
    while tokens.peek() is not None:
        keyword_line = tokens.line()
        keyword = tokens.next()
        if keyword == "network":
            declared = tokens.next()
            if name is None and file_name is None:
                network_name = declared
            tokens.skip_block()
        elif keyword == "variable":
            var = tokens.next()
            if var in states:
                raise tokens.error(f"duplicate node {var!r} (first declared on line {declared_on[var]}).")
            declared_on[var] = keyword_line
            tokens.next("{")
            while tokens.peek() != "}":
                word = tokens.next()
                if word == "type":
                    tokens.next("discrete")
                    tokens.next("[")
                    count_token = tokens.next()
                    if not count_token.isdigit():
                        raise tokens.error(f"the state count of {var!r} is {count_token!r}, not a whole number.")
                    tokens.next("]")
                    tokens.next("{")
                    states[var] = tokens.names_until("}")
                    tokens.next(";")
                    if len(states[var]) != int(count_token):
                        raise tokens.error(
                            f"variable {var!r} declares {count_token} states but lists {len(states[var])}.", keyword_line
                        )
                else:  # property lines and anything else we do not use
                    while tokens.next() != ";":
                        pass
            tokens.next("}")
        elif keyword == "probability":
            tokens.next("(")
            head = tokens.names_until(")")
            if not head:
                raise tokens.error("a probability block names no variable: write 'probability ( Var | Parents )'.")
            if "|" in head:
                bar = head.index("|")
                var, var_parents = head[0], head[bar + 1:]
            else:
                var, var_parents = head[0], head[1:]
            if var in parents:
                raise tokens.error(f"two probability blocks for {var!r}.")
            parents[var] = var_parents
            labelled, table, default = [], None, None
            tokens.next("{")
            block_line = keyword_line
            while tokens.peek() != "}":
                word = tokens.next()
                if word == "(":
                    label = tokens.names_until(")")
                    labelled.append((label, tokens.numbers_until_semicolon(f"a row of P({var} | ...)")))
                elif word == "table":
                    table = tokens.numbers_until_semicolon(f"the table of {var!r}")
                elif word == "default":
                    default = tokens.numbers_until_semicolon(f"the default row of {var!r}")
                else:
                    raise tokens.error(f"unexpected {word!r} in the probability block of {var!r}.", tokens.lines[tokens.pos - 1])
            tokens.next("}")
            rows[var] = (labelled, table, default, block_line)
        else:
            raise tokens.error(f"unexpected {keyword!r}; expected 'network', 'variable' or 'probability'.", keyword_line)

    if not states:
        label = tokens.source or "The BIF text"
        raise NetworkError(f"{label} declares no variables: a BIF file needs 'variable' and 'probability' blocks.")
    for var in parents:
        if var not in states:
            raise tokens.error(f"a probability block is given for {var!r}, which is not declared as a variable.",
                               rows[var][3])
    missing = [v for v in states if v not in parents]
    if missing:
        raise tokens.error(f"no probability block for {', '.join(missing)}.", declared_on[missing[0]])
    for var, pa in parents.items():
        for p in pa:
            if p not in states:
                raise tokens.error(f"edge {p} -> {var} points from an unknown node {p!r}.", rows[var][3])
    cpts = {}
    for var in states:
        labelled, table, default, block_line = rows[var]
        try:
            cpts[var] = _cpt(var, parents[var], states, labelled, table, default)
        except NetworkError as exc:
            raise tokens.error(str(exc), block_line) from None
    try:
        return BayesianNetwork(states, {v: parents[v] for v in states}, cpts, name=network_name)
    except NetworkError as exc:  # a cycle, a row that does not sum to one ...: say which file
        if tokens.source:
            raise NetworkError(f"{tokens.source}: {exc}") from None
        raise


def _cpt(var, var_parents, states, labelled, table, default):
    card = len(states[var])
    parent_states = [states[p] for p in var_parents]
    shape = tuple(len(s) for s in parent_states) + (card,)
    if not var_parents:
        if table is None:
            raise NetworkError(f"the root {var!r} needs a 'table' line.")
        if len(table) != card:
            raise NetworkError(f"the table of {var!r} has {len(table)} values for {card} states.")
        return np.array(table)
    if table is not None:
        raise NetworkError(
            f"{var!r} has parents but gives a bare 'table'; write one labelled row per parent combination."
        )
    cpt = np.full(shape, np.nan)
    for label, values in labelled:
        if len(label) != len(var_parents):
            raise NetworkError(f"the row ({', '.join(label)}) of {var!r} must name {len(var_parents)} parent states.")
        try:
            index = tuple(s.index(x) for s, x in zip(parent_states, label))
        except ValueError:
            raise NetworkError(f"the row ({', '.join(label)}) of {var!r} names an unknown parent state.") from None
        if len(values) != card:
            raise NetworkError(f"the row ({', '.join(label)}) of {var!r} has {len(values)} values for {card} states.")
        cpt[index] = values
    for combo in itertools.product(*(range(n) for n in shape[:-1])):
        if np.isnan(cpt[combo]).any():
            if default is None:
                label = ", ".join(s[i] for s, i in zip(parent_states, combo))
                raise NetworkError(f"the row ({label}) of {var!r} is missing and no default is given.")
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
