"""Lessons (dgm_core.lessons and labs/lesson.py): every shipped lesson validates and runs to its
end in AppTest, with the Bayesian-network answers checked against networkx's d-separation; a broken
file is refused with its file and line, and the lab says so instead of failing."""
import networkx as nx
import pytest

from dgm_core import lessons
from dgm_core.lab_records import LABS
from dgm_core.labs import bayesian_networks as bn_lab
from tests.conftest import by_key, no_exception, open_lab

#: The labs that ship a lesson, and their pages (from the one record per lab).
PAGES = {lab.name: lab.page for lab in LABS if lab.lesson}
GOOD = """lab: bayesian-networks
title: t
network: earthquake
question: Is Burglary independent of Earthquake?
choices: yes | no
check: d-separated Burglary Earthquake
"""


def test_one_lesson_per_lab_ships_and_every_one_validates():
    by_lab, problems = lessons.load_all()
    assert problems == {}
    assert set(by_lab) == set(PAGES)
    assert all(len(by_lab[lab]) == 1 for lab in by_lab)
    assert {lab.name: lab.lesson for lab in LABS if lab.lesson} == {
        name: next(p.name for p in lessons.LESSONS_DIR.glob("*.txt") if lessons.declared_lab(p.read_text()) == name)
        for name in by_lab}                      # each record names the file that ships its lesson


@pytest.mark.parametrize("change, message", [
    (("lab: bayesian-networks", "lab: chemistry"), "unknown lab 'chemistry'; choose one of bayesian-networks"),
    (("network: earthquake", "network: nowhere"), "unknown network 'nowhere'"),
    (("Burglary Earthquake\n", "Burglary Unicorn\n"), "line 6: unknown node 'Unicorn' in network 'earthquake'; its nodes are Burglary"),
    (("check: d-separated Burglary Earthquake\n", ""), "line 4: no 'check:' line"),
    (("check: d-separated", "check: entanglement"), "unknown check 'entanglement'; the Bayesian networks lab's checks "
                                                    "are d-separated"),
    (("check: d-separated Burglary Earthquake", "check: lowest-fd"), "'lowest-fd' is a check of the GANs lab"),
    (("choices: yes | no", "choices: yes | no | maybe"), "3 choice(s) for a check with 2 possible answers"),
    (("title: t\n", ""), "no 'title:' line"),
    (("choices: yes | no", "choises: yes | no"), "line 5: unknown key 'choises'"),
    (("question: Is Burglary independent of Earthquake?\n", ""), "'choices:' comes before any 'question:'"),
])
def test_a_broken_lesson_is_refused_with_its_file_and_line(change, message):
    old, new = change
    assert old in GOOD
    with pytest.raises(lessons.LessonError) as caught:
        lessons.parse(GOOD.replace(old, new), "mine.txt")
    assert any(message in p and p.startswith("mine.txt") for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("check, message", [
    ("more-information vae-digits-beta1 vae-digits-beta9", "unknown checkpoint 'vae-digits-beta9'"),
    ("more-information vae-digits-beta1", "it compares 2 checkpoint(s); got 1"),
    ("first-to-cover-modes steps=ten", "steps=ten must be a whole number from 100 to 10000"),
    ("first-to-cover-modes speed=2", "unknown setting 'speed'"),
])
def test_checks_refuse_unknown_checkpoints_and_settings(check, message):
    lab = {"more": "vae", "firs": "gans"}[check[:4]]
    text = f"lab: {lab}\ntitle: t\nquestion: q?\nchoices: a | b | c | d\ncheck: {check}\n"
    with pytest.raises(lessons.LessonError) as caught:
        lessons.parse(text, "x.txt")
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_the_d_separation_answers_agree_with_networkx():
    from dgm_core.checkpoints import load_checkpoint
    from dgm_core.pgm.examples import load_example

    lesson = lessons.load_all()[0]["bayesian-networks"][0]
    bn = load_example(lesson.settings["network"])
    graph = nx.DiGraph(list(bn.edges))
    for i, q in enumerate(lesson.questions):
        _, words, _ = lessons.split_check(q.check)
        (x, y), given = bn_lab._dsep_parts(words)
        separated = nx.is_d_separator(graph, {x}, {y}, set(given))
        assert lessons.reveal(lesson, i, load_checkpoint).answer == (0 if separated else 1)


def _run_lesson(at, lab: str, lesson) -> list[str]:
    """Switch lesson mode on, predict the first choice, reveal, go on; the answers shown, in order."""
    lab = lab.replace("-", "_")
    by_key(at.toggle, f"{lab}_lesson").set_value(True).run()
    no_exception(at)
    shown = []
    for i, question in enumerate(lesson.questions):
        assert any(question.text in m.value for m in at.markdown)
        reveal = by_key(at.button, f"{lab}_lesson_reveal")
        assert reveal.disabled                                    # no prediction yet
        by_key(at.radio, f"{lab}_lesson_pick_{lesson.source}_{i}").set_value(question.choices[0]).run()
        by_key(at.button, f"{lab}_lesson_reveal").click().run()
        no_exception(at)
        answer = next(s.value for s in at.success if s.value.startswith("Answer:"))
        shown.append(answer)
        assert any(f"**{c}**" in answer for c in question.choices)
        if i + 1 < len(lesson.questions):
            by_key(at.button, f"{lab}_lesson_next").click().run()
            assert by_key(at.radio, f"{lab}_lesson_step").value == i + 2
    # the score counts every question, and going back keeps each prediction and its verdict
    right = sum(a.endswith("Your prediction was right.") for a in shown)
    assert f"**End of the lesson:** predictions right: {right} of {len(lesson.questions)}." in [m.value for m in at.markdown]
    if len(lesson.questions) > 1:
        by_key(at.button, f"{lab}_lesson_back").click().run()
        assert next(s.value for s in at.success if s.value.startswith("Answer:")) == shown[-2]
        assert by_key(at.radio, f"{lab}_lesson_kept_{lesson.source}_{len(shown) - 2}").value == \
            lesson.questions[len(shown) - 2].choices[0]
    return shown


@pytest.mark.parametrize("lab", list(PAGES))
def test_every_shipped_lesson_runs_to_its_end(lab):
    from dgm_core.checkpoints import load_checkpoint

    lesson = lessons.load_all()[0][lab][0]
    at = open_lab(PAGES[lab], timeout=300)
    shown = _run_lesson(at, lab, lesson)
    # what the page revealed is what the lab computes for each question
    for i, (question, answer) in enumerate(zip(lesson.questions, shown)):
        if lab != "gans" or i > 0:      # the GAN race is a live run: computed once, on the page
            expected = question.choices[lessons.reveal(lesson, i, load_checkpoint).answer]
            assert answer.startswith(f"Answer: **{expected}**.")
        right = answer.endswith("Your prediction was right.")
        assert right == (question.choices[0] == answer.split("**")[1])


def test_a_broken_lesson_file_is_named_in_the_lab_and_the_lab_still_works(tmp_path, monkeypatch):
    (tmp_path / "vae.txt").write_text(GOOD.replace("bayesian-networks", "vae").replace("network: earthquake\n", ""))
    (tmp_path / "broken.txt").write_text("lab: vae\ntitle: x\nquestion: q?\nchoices: a | b\n")
    monkeypatch.setattr(lessons, "LESSONS_DIR", tmp_path)
    at = open_lab(PAGES["vae"])
    warning = next(w.value for w in at.sidebar.warning if w.value.startswith("A lesson file could not be used"))
    assert "broken.txt, question on line 3: no 'check:' line" in warning
    assert "vae.txt" in warning and "'d-separated' is a check of the Bayesian networks lab" in warning


def test_a_link_opens_the_lesson_at_its_question():
    from tests.test_page_links import open_link

    at = open_link(PAGES["vqvae"], {"vqvae_lesson": "true", "vqvae_lesson_step": "2"})
    lesson = lessons.load_all()[0]["vqvae"][0]
    assert any(f"**2. {lesson.questions[1].text}**" == m.value for m in at.markdown)
    assert not [w for w in at.warning if w.value.startswith("This link's settings")]


def test_showing_the_lesson_network_asks_no_question_before_the_reveal():
    at = open_lab(PAGES["bayesian-networks"])
    by_key(at.toggle, "bayesian_networks_lesson").set_value(True).run()
    by_key(at.button, "bayesian_networks_lesson_setup").click().run()
    no_exception(at)
    assert "earthquake" in at.sidebar.markdown[-1].value or any("earthquake" in m.value for m in at.sidebar.markdown)
    assert any(i.value == "Choose at least one node for X and one for Y." for i in at.info)
    assert not [s for s in at.success if "d-separated" in s.value]


@pytest.mark.parametrize("lab", ["vae", "gans", "bayesian-networks"])
def test_previous_goes_back_without_a_link_warning(lab):
    """'← Previous' on a lesson opened from a link said "`vae_lesson_step=2` is not a value this control
    allows": the address still held the question the click had left."""
    from tests.test_page_links import open_link

    prefix = lab.replace("-", "_")
    at = open_link(PAGES[lab], {f"{prefix}_lesson": "true", f"{prefix}_lesson_step": "2"})
    by_key(at.button, f"{prefix}_lesson_back").click().run()
    assert not [w.value for w in at.warning if w.value.startswith("This link's settings")]
    by_key(at.button, f"{prefix}_lesson_next").click().run()
    by_key(at.button, f"{prefix}_lesson_back").click().run()
    no_exception(at)
    assert by_key(at.radio, f"{prefix}_lesson_step").value == 1
    assert not [w.value for w in at.warning if w.value.startswith("This link's settings")]
