"""Benchmarks: each module's `rows(quick=False)` measures ours against a reference in the same run
(`python -m benchmarks` prints them all as one table of ratios)."""
from __future__ import annotations

import argparse
import time


def median_seconds(fn, repeats: int = 10) -> float:
    """The median wall-clock time of `repeats` calls of `fn`, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def run_alone(rows, doc: str) -> None:
    """`python -m benchmarks.NAME [--quick]`: one benchmark's table."""
    from benchmarks.__main__ import table

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    print(table(rows(parser.parse_args().quick)))
