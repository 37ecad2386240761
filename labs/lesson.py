"""A lab's lesson mode (not a page: dgm_core.lab_records.LABS does not list it). The lab's lessons come from
the plain text files in lessons/ (dgm_core.lessons), read again whenever one changes; the class
predicts each answer, and the lab computes it only when the lecturer presses Reveal. The question
number is in the URL (`<lab>_lesson_step`), so a shared link opens the same question."""
import streamlit as st

from dgm_core import lessons
from dgm_core.checkpoints import CheckpointError
from labs.checkpoints import cached
from labs.export import figure_config
from labs.url_state import BIND

ss = st.session_state


@st.cache_data(show_spinner=False)
def _read(stamp: tuple):
    return lessons.load_all()


def _stamp() -> tuple:
    """The lesson files' names and modification times: an edited file is read again on the next rerun."""
    folder = lessons.LESSONS_DIR
    return tuple(sorted((p.name, p.stat().st_mtime) for p in folder.glob("*.txt"))) if folder.is_dir() else ()


def _go(key: str, step: int) -> None:
    ss[key] = step


@st.cache_data(show_spinner=False, max_entries=64)
def _reveal(lesson, index: int, check: str, _progress=None):
    """The computed answer, shared by every session that reveals the same check (a class revealing together
    computes it once); `check` is in the key so an edited lesson file is computed again. `_progress` (not
    part of the key) hears how far a long check has come."""
    return lessons.reveal(lesson, index, cached, _progress)


def lesson_mode(lab: str, setup=None, setup_label: str = "") -> None:
    """The sidebar's lesson switch and, when it is on, the current question at this point of the page.
    `setup(lesson)`, offered as a button labelled `setup_label`, puts the lab in the lesson's state
    (the Bayesian-network lab: the lesson's network). Widget keys start with the lab's name with
    underscores (bayesian_networks_lesson_step)."""
    by_lab, problems = _read(_stamp())
    mine, broken = by_lab.get(lab, []), problems.get(lab, []) + problems.get("", [])
    if not mine and not broken:
        return
    prefix = lab.replace("-", "_")
    on = st.sidebar.toggle("Lesson mode", key=f"{prefix}_lesson", bind=BIND,
                           help="Questions for the class: predict first, then press Reveal and the lab computes the "
                                "answer. Lessons are the text files in lessons/.")
    if broken:
        st.sidebar.warning("A lesson file could not be used:\n\n" + "\n\n".join(f"- {p}" for p in broken))
    if not on or not mine:
        return
    titles = [lesson.title for lesson in mine]
    title = (st.sidebar.selectbox("Lesson", titles, key=f"{prefix}_lesson_title", bind=BIND) if len(mine) > 1
             else titles[0])
    lesson = mine[titles.index(title)]
    count, step_key = len(lesson.questions), f"{prefix}_lesson_step"
    # What was predicted and revealed lives here, not in the radios: Streamlit forgets a widget's value
    # once it is not drawn (another question, another lab), and the score needs every answer.
    revealed = ss.setdefault(f"{prefix}_lesson_revealed", {})
    with st.container(border=True):
        st.subheader(f"Lesson: {lesson.title}")
        if setup is not None:
            st.button(setup_label, key=f"{prefix}_lesson_setup", on_click=setup, args=(lesson,))
        step = st.radio("Question", list(range(1, count + 1)), horizontal=True, key=step_key, bind=BIND)
        index = step - 1
        question = lesson.questions[index]
        done = revealed.get((lesson.source, index, question.check))
        st.markdown(f"**{step}. {question.text}**")
        if done is None:
            pick = st.radio("Your prediction", question.choices, index=None,
                            key=f"{prefix}_lesson_pick_{lesson.source}_{index}")
            if st.button("Reveal the answer", key=f"{prefix}_lesson_reveal", type="primary", disabled=pick is None):
                try:
                    # A long check (the GAN race trains for half a minute) reports its progress in this bar.
                    bar = st.progress(0.0, text="The lab is computing the answer…")
                    revealed[(lesson.source, index, question.check)] = (
                        _reveal(lesson, index, question.check, lambda done, text: bar.progress(min(done, 1.0), text=text)),
                        pick)
                except CheckpointError as exc:
                    st.error(f"This question needs a checkpoint that could not be loaded: {exc}")
                else:
                    st.rerun()          # redraw with the prediction locked, instead of under the open question
            elif pick is None:
                st.caption("Choose a prediction to reveal the answer.")
        if done is not None:
            answer, pick = done
            st.radio("Your prediction", question.choices, index=question.choices.index(pick), disabled=True,
                     key=f"{prefix}_lesson_kept_{lesson.source}_{index}")
            right = question.choices[answer.answer]
            st.success(f"Answer: **{right}**. " + ("Your prediction was right." if pick == right else
                                                   f"Your prediction was **{pick}**."))
            st.markdown(answer.text)
            if answer.figure is not None:
                st.plotly_chart(answer.figure, key=f"{prefix}_lesson_figure_{index}", config=figure_config())
            if answer.table:
                st.dataframe(answer.table, hide_index=True)
            if question.after:
                st.info(question.after)
        back, forward, _ = st.columns([1, 1, 4])
        back.button("← Previous", key=f"{prefix}_lesson_back", disabled=step == 1, on_click=_go,
                    args=(step_key, step - 1))
        forward.button("Next →", key=f"{prefix}_lesson_next", disabled=step == count, on_click=_go,
                       args=(step_key, step + 1))
        answers = [revealed.get((lesson.source, i, q.check)) for i, q in enumerate(lesson.questions)]
        if all(a is not None for a in answers):
            right = sum(pick == q.choices[a.answer] for q, (a, pick) in zip(lesson.questions, answers))
            st.markdown(f"**End of the lesson:** predictions right: {right} of {count}.")
