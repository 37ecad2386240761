"""`python -m benchmarks [--quick] [NAME ...]`: run every benchmark and print one table of ratios.

Each benchmark module has `rows(quick=False)`, returning dicts with "benchmark", "measure",
"ours", "reference", "unit", "reference_name" and "ratio" (how many times better ours is than the
reference measured in the same run: a ratio means something on any machine, a time alone does not)."""
from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = ["dseparation", "vae_slider", "fid", "gan_live", "flow", "ebm"]


def table(rows: list[dict]) -> str:
    lines = ["| benchmark | measure | ours | reference | unit | ratio (ours vs reference) |",
             "| --- | --- | ---: | ---: | --- | ---: |"]
    for r in rows:
        lines.append(f"| {r['benchmark']} | {r['measure']} | {r['ours']:.4g} | {r['reference']:.4g} "
                     f"({r['reference_name']}) | {r['unit']} | {r['ratio']:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=BENCHMARKS, help=f"which to run (default: all of {BENCHMARKS})")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs (a smoke test)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {BENCHMARKS}")
    rows = []
    for name in args.names:
        print(f"running benchmarks.{name} ...", file=sys.stderr, flush=True)
        rows += importlib.import_module(f"benchmarks.{name}").rows(quick=args.quick)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
