"""Lessons: predict, then reveal. A lesson is a plain text file a lecturer writes and edits without
Python; each question asks the class to predict, and the lab computes the answer only when the
lecturer reveals it (nothing in the file is an answer).

The format (one file per lesson, in lessons/; `#` starts a comment line):

    lab: bayesian-networks            which lab runs it (a name in dgm_core.lab_records.LABS)
    title: Explaining away            shown above the questions
    network: earthquake               lab settings the checks need (the Bayesian-network lab: a network)

    question: Is Burglary independent of Earthquake given Alarm?
    choices: yes | no                 one label per possible answer, in the order the check lists them
    check: d-separated Burglary Earthquake given Alarm
    after: Observing a common effect couples its causes.     (optional: said after the reveal)

`check:` names a computation of the lab and its arguments (each lab registers its checks, with the
answers each can give, in its module of dgm_core.labs: `checks()` gathers them); words with `=` are settings (steps=2000). A file is validated when it is read, and every
problem is reported with the file and line: an unknown lab or check, a check another lab runs, an
unknown network, node or checkpoint, a question with no check or with the wrong number of choices.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dgm_core import paths
from dgm_core.lab_records import LABS

LESSONS_DIR = paths.lessons_dir()
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
    """A computation a lesson's `check:` line names; a lab registers its own in its module's CHECKS."""
    usage: str                                   # how it is written, for error messages
    answers: Callable[[list[str], dict], list[str]]   # what each choice stands for, in order
    validate: Callable[[list[str], dict, dict], list[str]]   # (words, options, lesson settings) -> problems
    run: Callable[[list[str], dict, dict], Reveal]


# ------------------------------------------------------------------------------ the labs and their checks
def lab_titles() -> dict[str, str]:
    """Lab names a lesson may give, and the title of each (dgm_core.lab_records.LABS)."""
    return {lab.name: lab.title for lab in LABS}


def checks() -> dict[str, tuple[str, Check]]:
    """Every check a lesson can name: check name -> (the lab that registers it, the Check)."""
    return {name: (lab.name, check) for lab in LABS for name, check in lab.checks().items()}


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
    titles = lab_titles()
    if lab not in titles:
        problems.append(f"{source}: " + (f"unknown lab '{lab}'" if lab else "no 'lab:' line") +
                        f"; choose one of {', '.join(titles)}")
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
    every, titles = checks(), lab_titles()
    if kind not in every:
        mine = [name for name, (owner, _) in every.items() if owner == lab]
        return [f"{where}: unknown check '{kind}'; the {titles.get(lab, lab)} lab's checks are {', '.join(mine)}"]
    owner, check = every[kind]
    if owner != lab:
        return [f"{where}: '{kind}' is a check of the {titles[owner]} lab, not of {titles.get(lab, lab)}"]
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
            problems.setdefault(lab if lab in lab_titles() else "", []).extend(exc.problems)
        else:
            lessons.setdefault(lesson.lab, []).append(lesson)
    return lessons, problems


def reveal(lesson: Lesson, index: int, load, progress=None, seed: int = 0) -> Reveal:
    """Compute the answer of question `index` now; `load(name)` is the front end's checkpoint loader, and
    `progress(fraction, text)`, if given, hears how far a long check (a live race) has come. `seed` draws
    whatever the check samples (0 in class; tests recompute each answer under other seeds, and an answer
    that changes with the seed is a lesson that rests on noise)."""
    kind, words, options = split_check(lesson.questions[index].check)
    return checks()[kind][1].run(words, {**options, "_load": load, "_progress": progress or (lambda *_: None),
                                         "_seed": seed}, lesson.settings)


# ---------------------------------------------------------- what the labs' checks share (dgm_core.labs.<lab>)
def option(options: dict, key: str, default: float, low: float, high: float, problems: list[str] | None = None,
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


def options_problems(options: dict, allowed: dict) -> list[str]:
    """Unknown settings, and each allowed one outside its range (allowed: key -> (default, low, high, whole))."""
    problems = [f"unknown setting '{k}'" + (f"; it takes {', '.join(allowed)}" if allowed else "; it takes none")
                for k in options if k not in allowed]
    for key, spec in allowed.items():
        if spec is None:
            continue
        default, low, high, whole = spec
        if key in options:
            option(options, key, default, low, high, problems, whole)
    return problems


def checkpoint_problems(words: list[str], count: int, model_types: tuple[str, ...]) -> list[str]:
    from dgm_core.catalogue import shipped

    known = {i.name: i.model_type for i in shipped()}
    if len(words) != count:
        return [f"it compares {count} checkpoint(s); got {len(words)}"]
    return [f"unknown checkpoint '{w}'; shipped ones of this kind: "
            f"{', '.join(n for n, t in known.items() if t in model_types)}"
            for w in words if known.get(w) not in model_types]




def no_names(words: list[str]) -> list[str]:
    """The problem of a check that takes no names, given some."""
    return [f"it takes no names; got {' '.join(words)}"] if words else []


def yes_no(words, options) -> list[str]:
    return ["yes", "no"]


def the_names(words, options) -> list[str]:
    """The answers of a check that picks one of the names it was given."""
    return list(words)
