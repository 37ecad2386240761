"""What the Bayesian-network lab shows beyond its drawings: the lesson check it registers.

`d-separated X Y [given Z …]` answers whether X ⟂ Y | Z holds in every distribution on the lesson's
network (the d-separation verdict and the active trail), and how far apart P(X | Y, Z) and P(X | Z)
are on its CPTs.
"""
from __future__ import annotations

from dgm_core.lessons import Check, Reveal, options_problems, yes_no


def _dsep_parts(words: list[str]) -> tuple[list[str], list[str]]:
    if "given" in words:
        i = words.index("given")
        return words[:i], [w.strip(",") for w in words[i + 1:] if w.strip(",")]
    return words, []


def _dsep_validate(words, options, settings):
    from dgm_core.pgm.examples import example_names, load_example

    pair, given = _dsep_parts(words)
    problems = options_problems(options, {})
    if len(pair) != 2:
        return problems + [f"it needs two nodes before 'given'; got {len(pair)}"]
    if settings.get("network") not in example_names():
        return problems                              # reported once, for the file
    bn = load_example(settings["network"])
    unknown = [n for n in pair + given if n not in bn.nodes]
    listed = f"; its nodes are {', '.join(bn.nodes)}" if len(bn.nodes) <= 40 else ""
    problems += [f"unknown node '{n}' in network '{settings['network']}'{listed}" for n in unknown]
    if not unknown and len(set(pair + given)) != len(pair + given):
        problems.append("a node appears twice: X, Y and the nodes given must all differ")
    return problems


def _dsep_run(words, options, settings):
    from dgm_core.figures.pgm import network_figure
    from dgm_core.pgm import independence_gap
    from dgm_core.pgm.comparison import trail_rows
    from dgm_core.pgm.examples import load_example

    bn = load_example(settings["network"])
    (x, y), given = _dsep_parts(words)
    separated = bn.d_separated(x, y, given)
    trail = bn.active_trail(x, y, given)
    gap = independence_gap(bn, x, y, given)
    query = f"{x} ⟂ {y}" + (f" | {', '.join(given)}" if given else "")
    if separated:
        text = (f"**Yes: {query}.** Every trail between them is blocked, so the independence holds in every "
                f"distribution on this graph. Numerically, on these CPTs, max |P({x} | {y}, Z) − P({x} | Z)| = "
                f"{gap.gap:.2g}.")
    else:
        text = (f"**No: {x} and {y} are dependent" + (f" given {', '.join(given)}" if given else "") +
                f".** The active trail {' – '.join(trail)} connects them. Numerically, on these CPTs, "
                f"P({x} | {y}, Z) and P({x} | Z) differ by up to {gap.gap:.3f} (at "
                + ", ".join(f"{k} = {v}" for k, v in gap.assignment.items()) + ").")
    figure = network_figure(bn, [x], [y], given, trail=trail)[0]
    return Reveal(0 if separated else 1, text, figure, trail_rows(bn, x, y, given))


CHECKS = {"d-separated": Check("d-separated X Y [given Z1 Z2 …]", yes_no, _dsep_validate, _dsep_run)}
