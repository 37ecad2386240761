"""Lessons: predict, then reveal. A lesson is a plain text file a lecturer writes and edits without
Python; each question asks the class to predict, and the lab computes the answer only when the
lecturer reveals it (nothing in the file is an answer).

The format (one file per lesson, in lessons/; `#` starts a comment line):

    lab: bayesian-networks            which lab runs it (LABS)
    title: Explaining away            shown above the questions
    network: earthquake               lab settings the checks need (the Bayesian-network lab: a network)

    question: Is Burglary independent of Earthquake given Alarm?
    choices: yes | no                 one label per possible answer, in the order the check lists them
    check: d-separated Burglary Earthquake given Alarm
    after: Observing a common effect couples its causes.     (optional: said after the reveal)

`check:` names a computation of the lab and its arguments (CHECKS lists them, with the answers each
can give); words with `=` are settings (steps=2000). A file is validated when it is read, and every
problem is reported with the file and line: an unknown lab or check, a check another lab runs, an
unknown network, node or checkpoint, a question with no check or with the wrong number of choices.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Lab names a lesson may give, and the page title each stands for.
LABS = {"bayesian-networks": "Bayesian networks", "vae": "VAE", "gans": "GANs", "flows": "Normalizing flows",
        "energy": "Energy-based models", "vqvae": "VQ-VAE and its codes"}
LESSONS_DIR = Path(__file__).resolve().parents[1] / "lessons"
HEADER_KEYS = {"lab", "title", "network"}
QUESTION_KEYS = {"question", "choices", "check", "after"}


class LessonError(ValueError):
    """A lesson file that cannot be run, with every problem found (file and line)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Question:
    text: str
    line: int
    choices: list[str] = field(default_factory=list)
    check: str = ""
    after: str = ""
    check_line: int = 0


@dataclass
class Lesson:
    lab: str
    title: str
    source: str
    settings: dict[str, str]
    questions: list[Question]


@dataclass
class Reveal:
    """What the lab computed: the index of the right choice, the explanation with its numbers, and
    optionally a plotly figure and a table (list of dicts) to show."""
    answer: int
    text: str
    figure: Any = None
    table: list[dict] | None = None


@dataclass(frozen=True)
class Check:
    lab: str
    usage: str                                   # how it is written, for error messages
    answers: Callable[[list[str], dict], list[str]]   # what each choice stands for, in order
    validate: Callable[[list[str], dict, dict], list[str]]   # (words, options, lesson settings) -> problems
    run: Callable[[list[str], dict, dict], Reveal]


# ------------------------------------------------------------------------------ reading a file
def parse(text: str, source: str = "<lesson>") -> Lesson:
    """Read and validate one lesson; raises LessonError listing every problem."""
    problems, settings, questions = [], {}, []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        where = f"{source}, line {number}"
        if not sep or not key:
            problems.append(f"{where}: expected 'key: value' (for example 'question: …'); got {line!r}")
            continue
        if key == "question":
            questions.append(Question(value, number))
        elif key in QUESTION_KEYS:
            if not questions:
                problems.append(f"{where}: '{key}:' comes before any 'question:'")
                continue
            q = questions[-1]
            if key == "choices":
                q.choices = [c.strip() for c in value.split("|") if c.strip()]
            else:
                setattr(q, key, value)
                if key == "check":
                    q.check_line = number
        elif key in HEADER_KEYS:
            if questions:
                problems.append(f"{where}: '{key}:' belongs at the top of the file, before the first question")
            settings[key] = value
        else:
            problems.append(f"{where}: unknown key '{key}'; a lesson uses "
                            f"{', '.join(sorted(HEADER_KEYS | QUESTION_KEYS))}")
    lab = settings.get("lab", "")
    if lab not in LABS:
        problems.append(f"{source}: " + (f"unknown lab '{lab}'" if lab else "no 'lab:' line") +
                        f"; choose one of {', '.join(LABS)}")
    if not settings.get("title"):
        problems.append(f"{source}: no 'title:' line")
    if lab == "bayesian-networks":
        problems += _check_network(settings, source)
    if not questions:
        problems.append(f"{source}: no 'question:' line; a lesson needs at least one")
    for q in questions:
        problems += _check_question(q, lab, settings, f"{source}, question on line {q.line}")
    if problems:
        raise LessonError(problems)
    return Lesson(lab, settings["title"], source, settings, questions)


def _check_network(settings: dict, source: str) -> list[str]:
    from dgm_core.pgm.examples import example_names

    name = settings.get("network", "")
    if name not in example_names():
        return [f"{source}: " + (f"unknown network '{name}'" if name else "no 'network:' line") +
                f"; the lab's networks are {', '.join(example_names())}"]
    return []


def split_check(check: str) -> tuple[str, list[str], dict[str, str]]:
    """'kind word word key=value' -> (kind, words, options)."""
    parts = check.split()
    words = [p for p in parts[1:] if "=" not in p]
    options = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    return (parts[0] if parts else ""), words, options


def _check_question(q: Question, lab: str, settings: dict, where: str) -> list[str]:
    if not q.text:
        return [f"{where}: the question is empty"]
    if not q.check:
        return [f"{where}: no 'check:' line, so the lab has nothing to compute at reveal time"]
    kind, words, options = split_check(q.check)
    where = f"{where.split(', question on line')[0]}, line {q.check_line}"      # problems of a check: its own line
    check = CHECKS.get(kind)
    if check is None:
        mine = [name for name, c in CHECKS.items() if c.lab == lab]
        return [f"{where}: unknown check '{kind}'; the {LABS.get(lab, lab)} lab's checks are {', '.join(mine)}"]
    if check.lab != lab:
        return [f"{where}: '{kind}' is a check of the {LABS[check.lab]} lab, not of {LABS.get(lab, lab)}"]
    problems = [f"{where}: {p} (write it as '{check.usage}')" for p in check.validate(words, options, settings)]
    if problems:
        return problems
    answers = check.answers(words, options)
    if len(q.choices) != len(answers):
        return [f"{where}: {len(q.choices)} choice(s) for a check with {len(answers)} possible answers; give one "
                f"label per answer, in this order, separated by '|': {' | '.join(answers)}"]
    return []


def declared_lab(text: str) -> str:
    """The lab a file names on its 'lab:' line, even when the rest does not validate ('' if none)."""
    for raw in text.splitlines():
        key, sep, value = raw.strip().partition(":")
        if sep and key.strip().lower() == "lab":
            return value.strip()
    return ""


def load_all(directory: Path | None = None) -> tuple[dict[str, list[Lesson]], dict[str, list[str]]]:
    """Every lesson file (*.txt) in `directory` (default LESSONS_DIR): lab -> lessons, and lab -> the
    problems of the files that failed (under '' when a file names no lab we know, so every lab can show it)."""
    directory = LESSONS_DIR if directory is None else directory
    lessons: dict[str, list[Lesson]] = {}
    problems: dict[str, list[str]] = {}
    for path in sorted(directory.glob("*.txt")) if directory.is_dir() else []:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.setdefault("", []).append(f"{path.name}: could not be read as UTF-8 text ({exc})")
            continue
        try:
            lesson = parse(text, path.name)
        except LessonError as exc:
            lab = declared_lab(text)
            problems.setdefault(lab if lab in LABS else "", []).extend(exc.problems)
        else:
            lessons.setdefault(lesson.lab, []).append(lesson)
    return lessons, problems


def reveal(lesson: Lesson, index: int, load, progress=None) -> Reveal:
    """Compute the answer of question `index` now; `load(name)` is the front end's checkpoint loader, and
    `progress(fraction, text)`, if given, hears how far a long check (a live race) has come."""
    kind, words, options = split_check(lesson.questions[index].check)
    return CHECKS[kind].run(words, {**options, "_load": load, "_progress": progress or (lambda *_: None)},
                            lesson.settings)


# ------------------------------------------------------------------------------ the checks
def _option(options: dict, key: str, default: float, low: float, high: float, problems: list[str] | None = None,
            whole: bool = False) -> float:
    raw = options.get(key, default)
    try:
        value = int(raw) if whole else float(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or not low <= value <= high:
        if problems is not None:
            problems.append(f"{key}={raw} must be a {'whole ' if whole else ''}number from {low:g} to {high:g}")
        return default
    return value


def _options_problems(options: dict, allowed: dict) -> list[str]:
    """Unknown settings, and each allowed one outside its range (allowed: key -> (default, low, high, whole))."""
    problems = [f"unknown setting '{k}'" + (f"; it takes {', '.join(allowed)}" if allowed else "; it takes none")
                for k in options if k not in allowed]
    for key, spec in allowed.items():
        if spec is None:
            continue
        default, low, high, whole = spec
        if key in options:
            _option(options, key, default, low, high, problems, whole)
    return problems


def _checkpoints(words: list[str], count: int, model_types: tuple[str, ...]) -> list[str]:
    from dgm_core.catalogue import shipped

    known = {i.name: i.model_type for i in shipped()}
    if len(words) != count:
        return [f"it compares {count} checkpoint(s); got {len(words)}"]
    return [f"unknown checkpoint '{w}'; shipped ones of this kind: "
            f"{', '.join(n for n, t in known.items() if t in model_types)}"
            for w in words if known.get(w) not in model_types]


# -- Bayesian networks
def _dsep_parts(words: list[str]) -> tuple[list[str], list[str]]:
    if "given" in words:
        i = words.index("given")
        return words[:i], [w.strip(",") for w in words[i + 1:] if w.strip(",")]
    return words, []


def _dsep_validate(words, options, settings):
    from dgm_core.pgm.examples import example_names, load_example

    pair, given = _dsep_parts(words)
    problems = _options_problems(options, {})
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


# -- VAE
def _vae_pair_validate(words, options, settings):
    return _options_problems(options, {}) + _checkpoints(words, 2, ("vae", "vae-flow-prior"))


def _evaluate_pair(words, load) -> list[dict]:
    from dgm_core import catalogue, vae

    rows = []
    for w in words:
        model = load(w).model
        data = catalogue.test_images(catalogue.dataset_of(load(w)), model.image_size)
        rows.append({"checkpoint": w, **{k: round(v, 2) for k, v in vae.evaluate(model, data.images).items()}})
    return rows


def _more_information_run(words, options, settings):
    rows = _evaluate_pair(words, options["_load"])
    more = 0 if rows[0]["kl"] >= rows[1]["kl"] else 1
    text = (f"**{words[more]} keeps more information about each digit in z:** KL(q(z|x) ‖ p(z)) is " +
            " against ".join(f"{r['kl']:.1f}" for r in rows) + " nats per test image. A larger β pays more for every "
            "nat of KL, so the encoder sends less through the code.")
    return Reveal(more, text, table=rows)


def _better_reconstruction_run(words, options, settings):
    rows = _evaluate_pair(words, options["_load"])
    better = 0 if rows[0]["reconstruction"] <= rows[1]["reconstruction"] else 1
    text = (f"**{words[better]} reconstructs better:** the reconstruction error −E_q[log p(x|z)] is " +
            " against ".join(f"{r['reconstruction']:.1f}" for r in rows) + " nats per test image (lower is better), "
            "and the KL term " + " against ".join(f"{r['kl']:.1f}" for r in rows) + " nats: what one gains, the "
            "other pays.")
    return Reveal(better, text, table=rows)


# -- GANs
GAN_KINDS = ("gan", "wgan", "wgan-gp")


def _race_run(words, options, settings):
    from dgm_core import gan
    from dgm_core.figures.gan import coverage_figure

    steps = int(_option(options, "steps", 2000, 100, 10000, whole=True))
    every = 100
    models = {k: gan.ToyGAN(gan.default_config(k)) for k in GAN_KINDS}
    coverage = {k: [] for k in GAN_KINDS}
    first = {}
    for done in range(every, steps + 1, every):
        for kind, model in models.items():
            model.train(every)
            row = {"step": done, **model.mode_coverage()}
            coverage[kind].append(row)
            if row["captured"] == row["modes"] and kind not in first:
                first[kind] = done
        options["_progress"](done / steps, f"{done:,} of at most {steps:,} generator steps of each model; "
                                           f"{len(first)} of 3 have covered all 8 modes")
        if len(first) == len(models):
            break
    winner = min(first, key=lambda k: (first[k], GAN_KINDS.index(k))) if first else None
    names = {"gan": "GAN", "wgan": "WGAN", "wgan-gp": "WGAN-GP"}
    reached = "; ".join(f"{names[k]} at {first[k]} steps" if k in first else f"{names[k]} not within {steps}"
                        for k in GAN_KINDS)
    text = (f"**{names[winner] + ' covered all 8 modes first' if winner else f'None covered all 8 within {steps} steps'}.** "
            f"A live run of the lab's three default models on the 8 Gaussians, from the same start, checked every "
            f"{every} generator steps (a mode counts when it holds a quarter of its fair share of samples within 3σ): "
            f"{reached}. Run it in the live panel above to watch it happen; another seed can change the order.")
    return Reveal(GAN_KINDS.index(winner) if winner else 3, text, coverage_figure(coverage, 8))


def _lowest_fd_run(words, options, settings):
    import numpy as np

    from dgm_core import catalogue
    from dgm_core.features import classifier_features
    from dgm_core.metrics import frechet_distance

    load = options["_load"]
    judge, floor, _ = catalogue.judge_with_floor()
    test = classifier_features(judge, catalogue.test_images("digits", judge.image_size).images)
    rows = []
    for kind, names in catalogue.image_gan_runs().items():
        fds = [frechet_distance(classifier_features(judge, load(n).model.sample(1000, seed=0)), test) for n in names]
        rows.append({"model": {"gan": "GAN", "wgan": "WGAN", "wgan-gp": "WGAN-GP"}[kind], "seeds": len(names),
                     "FD (mean)": round(float(np.mean(fds)), 1),
                     "FD per seed": ", ".join(f"{f:.1f}" for f in fds)})
    best = min(rows, key=lambda r: r["FD (mean)"])["model"]
    text = (f"**{best} has the lowest Fréchet distance**, measured now on 1,000 samples per shipped seed "
            f"in the digit classifier's features (lower is better; real digits against real digits: {floor:.1f}).")
    return Reveal(["GAN", "WGAN", "WGAN-GP"].index(best), text, table=rows)


# -- flows
OOD_SETS = {"constant": "constant images", "noise": "uniform noise", "inverted": "inverted digits", "shapes": "shapes"}


def _ood_validate(words, options, settings):
    problems = _options_problems(options, {"share": (0.0, 0.0, 1.0, False)}) + _checkpoints(words[:1], 1, ("realnvp",))
    if len(words) != 2 or words[1] not in OOD_SETS:
        problems.append(f"it needs a RealNVP checkpoint and one of {', '.join(OOD_SETS)}")
    return problems


def _ood_run(words, options, settings):
    """Yes when more than `share` of the set gets a higher likelihood (fewer bits/dim) than the median
    test image of the training data: the lab's own OOD finding (dgm_core.flow.ood_findings)."""
    import numpy as np

    from dgm_core import catalogue, flow
    from dgm_core.figures.flow import ood_histogram_figure

    share = _option(options, "share", 0.0, 0.0, 1.0)
    checkpoint = options["_load"](words[0])
    model, dataset = checkpoint.model, catalogue.dataset_of(checkpoint)
    quantise = lambda x: flow.to_levels(x, model.levels) / (model.levels - 1)  # noqa: E731
    test = quantise(catalogue.test_images(dataset, model.image_size).images[:500])
    name = OOD_SETS[words[1]].replace("digits", dataset)
    other = flow.ood_images(dataset, model.image_size, model.levels, len(test), seed=0)[name]
    generator = catalogue.torch_generator(0)
    values = {dataset: flow.image_bits_per_dim(model, test, generator).numpy(),
              name: flow.image_bits_per_dim(model, other, generator).numpy()}
    median = float(np.median(values[dataset]))
    beaten = float((values[name] < median).mean())
    yes = beaten > share
    text = (f"**{'Yes' if yes else 'No'}:** {100 * beaten:.1f} % of the {len(other)} images of the set '{name}' get "
            "a higher likelihood "
            f"(fewer bits/dim) than the median {dataset} test image ({median:.2f} bits/dim); the asked share was "
            f"{'more than ' + format(100 * share, '.0f') + ' %' if share else 'any at all'}. The median of {name} is "
            f"{np.median(values[name]):.2f} bits/dim. A likelihood measures how simple an image is as much as how "
            "digit-like: the histogram shows where the two sets overlap.")
    return Reveal(0 if yes else 1, text, ood_histogram_figure(values, dataset, "bits per dimension"))


# -- energy models
def _accuracy_validate(words, options, settings):
    return _options_problems(options, {"points": (2.0, 0.0, 100.0, False)}) + _checkpoints(words, 2, ("ebm", "classifier"))


def _accuracy(model, data) -> float:
    import torch

    with torch.no_grad():
        return float((model(data.images).argmax(1) == data.labels).float().mean())


def _accuracy_run(words, options, settings):
    from dgm_core.data import load_dataset

    load = options["_load"]
    points = _option(options, "points", 2.0, 0.0, 100.0)
    accs = []
    for w in words:
        model = load(w).model.eval()
        accs.append(100 * _accuracy(model, load_dataset("digits", "test", model.image_size)))
    within = accs[1] - accs[0] <= points
    text = (f"**{'Yes' if within else 'No'}:** {words[0]} classifies {accs[0]:.1f} % of the test digits right, "
            f"{words[1]} {accs[1]:.1f} %: {abs(accs[1] - accs[0]):.1f} points {'below' if accs[0] < accs[1] else 'above'} "
            +
            ("(within" if within else "(more than") + f" {points:g}). Computed now on the 359 test digits; one "
            "digit is 0.28 points.")
    return Reveal(0 if within else 1, text, table=[{"checkpoint": w, "test accuracy (%)": round(a, 1)}
                                                    for w, a in zip(words, accs)])


def _conditional_validate(words, options, settings):
    problems = _options_problems(options, {"digit": (3, 0, 9, True), "steps": (100, 1, 500, True),
                                           "share": (0.5, 0.0, 1.0, False)})
    return problems + _checkpoints(words, 1, ("ebm",))


def _conditional_run(words, options, settings):
    from dgm_core import catalogue
    from dgm_core.figures.images import image_grid_figure

    digit = int(_option(options, "digit", 3, 0, 9, whole=True))
    steps = int(_option(options, "steps", 100, 1, 500, whole=True))
    share = _option(options, "share", 0.5, 0.0, 1.0)
    report = catalogue.conditional_samples(words[0], options["_load"], digit, steps, seed=0)
    above = report["read_as_asked"] > share
    text = (f"**{'Yes' if above else 'No'}:** {report['note']} That is {100 * report['read_as_asked']:.0f} %, "
            f"{'above' if above else 'not above'} {100 * share:.0f} %, after {steps} SGLD steps from noise.")
    return Reveal(0 if above else 1, text, image_grid_figure(report["samples"], 8, title=f"16 chains for a {digit}"))


# -- VQ-VAE
def _vq_validate(words, options, settings):
    return _options_problems(options, {}) + _checkpoints(words, 2, ("vqvae",))


def _codes_in_use_run(words, options, settings):
    from dgm_core import catalogue, vqvae

    load = options["_load"]
    rows = []
    for w in words:
        model = load(w).model
        report = vqvae.reconstruction_report(model, catalogue.test_images("digits", model.image_size).images)
        rows.append({"checkpoint": w, "codes in use": model.num_codes - report["dead_codes"], "of": model.num_codes,
                     "perplexity": round(report["perplexity"], 1)})
    more = 0 if rows[0]["codes in use"] >= rows[1]["codes in use"] else 1
    text = (f"**{words[more]} uses more codes:** " + " against ".join(f"{r['codes in use']} of {r['of']}" for r in rows)
            + " codes are chosen by at least one test digit. Without restarts a code the encoder never picks gets "
            "no gradient and stays dead.")
    return Reveal(more, text, table=rows)


REPRESENTATIONS = {"latent": "quantised latents", "histogram": "code histograms"}


def _clusters_validate(words, options, settings):
    problems = _options_problems(options, {"k": (10, 2, 64, True), "share": (0.5, 0.0, 1.0, False), "on": None})
    if options.get("on", "latent") not in REPRESENTATIONS:
        problems.append(f"on={options['on']} must be one of {', '.join(REPRESENTATIONS)}")
    return problems + _checkpoints(words, 1, ("vqvae",))


def _clusters_run(words, options, settings):
    from dgm_core import catalogue

    k = int(_option(options, "k", 10, 2, 64, whole=True))
    share = _option(options, "share", 0.5, 0.0, 1.0)
    on = options.get("on", "latent")
    codes = catalogue.vqvae_codes(options["_load"](words[0]), "test")
    report = catalogue.cluster_report(codes, on, k, seed=0)
    accuracy = report["matched accuracy"]
    above = accuracy > share
    text = (f"**{'Yes' if above else 'No'}:** k-means with k = {k} on the {REPRESENTATIONS[on]}, each cluster named by "
            f"its best-matching digit, labels {100 * accuracy:.1f} % of the test digits right (chance is about "
            f"10 %), {'above' if above else 'not above'} {100 * share:.0f} %.")
    return Reveal(0 if above else 1, text)


_no_words = lambda words, options, settings: (_options_problems(options, {"steps": (2000, 100, 10000, True)})  # noqa: E731
                                              + ([f"it takes no names; got {' '.join(words)}"] if words else []))
_pair = lambda words, options: list(words)  # noqa: E731
_yes_no = lambda words, options: ["yes", "no"]  # noqa: E731

CHECKS: dict[str, Check] = {
    "d-separated": Check("bayesian-networks", "d-separated X Y [given Z1 Z2 …]", _yes_no, _dsep_validate, _dsep_run),
    "more-information": Check("vae", "more-information CHECKPOINT_A CHECKPOINT_B", _pair, _vae_pair_validate,
                              _more_information_run),
    "better-reconstruction": Check("vae", "better-reconstruction CHECKPOINT_A CHECKPOINT_B", _pair, _vae_pair_validate,
                                   _better_reconstruction_run),
    "first-to-cover-modes": Check("gans", "first-to-cover-modes [steps=2000]",
                                  lambda w, o: ["GAN", "WGAN", "WGAN-GP", "none within the steps"], _no_words, _race_run),
    "lowest-fd": Check("gans", "lowest-fd", lambda w, o: ["GAN", "WGAN", "WGAN-GP"],
                       lambda w, o, s: _options_problems(o, {}) + ([f"it takes no names; got {' '.join(w)}"] if w else []),
                       _lowest_fd_run),
    "higher-likelihood": Check("flows", f"higher-likelihood CHECKPOINT {'|'.join(OOD_SETS)} [share=0]", _yes_no,
                               _ood_validate,
                               _ood_run),
    "accuracy-within": Check("energy", "accuracy-within MODEL REFERENCE [points=2]", _yes_no, _accuracy_validate,
                             _accuracy_run),
    "conditional-read-as": Check("energy", "conditional-read-as CHECKPOINT [digit=3] [steps=100] [share=0.5]", _yes_no,
                                 _conditional_validate, _conditional_run),
    "more-codes-in-use": Check("vqvae", "more-codes-in-use CHECKPOINT_A CHECKPOINT_B", _pair, _vq_validate,
                               _codes_in_use_run),
    "clusters-match-above": Check("vqvae", "clusters-match-above CHECKPOINT [k=10] [share=0.5] [on=latent|histogram]",
                                  _yes_no,
                                  _clusters_validate, _clusters_run),
}
