"""`python -m benchmarks [--quick] [NAME ...]`: run every benchmark and print one table of ratios.

Each benchmark module has `rows(quick=False)`, returning dicts with "benchmark", "measure",
"ours", "reference", "unit", "reference_name" and "ratio" (how many times better ours is than the
reference measured in the same run: a ratio means something on any machine, a time alone does not)."""
from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = ["dseparation", "vae_slider", "fid", "gan_live", "flow", "ebm", "vqvae", "live", "diffusion"]
HEADER = ["| benchmark | measure | ours | reference | unit | ratio (ours vs reference) |",
          "| --- | --- | ---: | ---: | --- | ---: |"]


def row_line(r: dict) -> str:
    return (f"| {r['benchmark']} | {r['measure']} | {r['ours']:.4g} | {r['reference']:.4g} "
            f"({r['reference_name']}) | {r['unit']} | {r['ratio']:.2f}x |")


def table(rows: list[dict]) -> str:
    return "\n".join([*HEADER, *map(row_line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=BENCHMARKS, help=f"which to run (default: all of {BENCHMARKS})")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs (a smoke test)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {BENCHMARKS}")
    # Each benchmark's rows are printed as soon as it ends, so a long or failing one loses no other's.
    print("\n".join(HEADER), flush=True)
    failed = []
    for name in args.names:
        print(f"running benchmarks.{name} ...", file=sys.stderr, flush=True)
        try:
            rows = importlib.import_module(f"benchmarks.{name}").rows(quick=args.quick)
        except Exception as exc:          # noqa: BLE001 - report it and go on with the others
            failed.append(name)
            print(f"benchmarks.{name} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            continue
        for r in rows:
            print(row_line(r), flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
