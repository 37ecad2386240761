"""A lab's lesson mode (not a page: labs/registry.py does not list it). The lab's lessons come from
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


def lesson_mode(lab: str, setup=None, setup_label: str = "") -> None:
    """The sidebar's lesson switch and, when it is on, the current question at this point of the page.
    `setup(lesson)`, offered as a button labelled `setup_label`, puts the lab in the lesson's state
    (the Bayesian-network lab: the lesson's network)."""
    by_lab, problems = _read(_stamp())
    mine, broken = by_lab.get(lab, []), problems.get(lab, []) + problems.get("", [])
    if not mine and not broken:
        return
    on = st.sidebar.toggle("Lesson mode", key=f"{lab}_lesson", bind=BIND,
                           help="Questions for the class: predict first, then press Reveal and the lab computes the "
                                "answer. Lessons are the text files in lessons/.")
    if broken:
        st.sidebar.warning("A lesson file could not be used:\n\n" + "\n\n".join(f"- {p}" for p in broken))
    if not on or not mine:
        return
    titles = [lesson.title for lesson in mine]
    title = st.sidebar.selectbox("Lesson", titles, key=f"{lab}_lesson_title", bind=BIND) if len(mine) > 1 else titles[0]
    lesson = mine[titles.index(title)]
    count, step_key = len(lesson.questions), f"{lab}_lesson_step"
    with st.container(border=True):
        st.subheader(f"Lesson: {lesson.title}")
        if setup is not None:
            st.button(setup_label, key=f"{lab}_lesson_setup", on_click=setup, args=(lesson,))
        step = st.radio("Question", list(range(1, count + 1)), horizontal=True, key=step_key, bind=BIND)
        index = step - 1
        question = lesson.questions[index]
        reveals = ss.setdefault(f"{lab}_lesson_reveals", {})
        done = reveals.get((lesson.source, index))
        st.markdown(f"**{step}. {question.text}**")
        pick = st.radio("Your prediction", question.choices, index=None, key=f"{lab}_lesson_pick_{lesson.source}_{index}",
                        disabled=done is not None, help="Predict before the answer is revealed.")
        if done is None:
            if st.button("Reveal the answer", key=f"{lab}_lesson_reveal", type="primary", disabled=pick is None,
                         help="Choose a prediction first." if pick is None else "The lab computes the answer now."):
                try:
                    with st.spinner("The lab is computing the answer…"):
                        done = reveals[(lesson.source, index)] = lessons.reveal(lesson, index, cached)
                except CheckpointError as exc:
                    st.error(f"This question needs a checkpoint that could not be loaded: {exc}")
        if done is not None:
            answer = question.choices[done.answer]
            verdict = ("Your prediction was right." if pick == answer else
                       f"Your prediction was **{pick}**." if pick else "")
            st.success(f"Answer: **{answer}**. {verdict}")
            st.markdown(done.text)
            if done.figure is not None:
                st.plotly_chart(done.figure, key=f"{lab}_lesson_figure_{index}", config=figure_config())
            if done.table:
                st.dataframe(done.table, hide_index=True)
            if question.after:
                st.info(question.after)
        back, forward, _ = st.columns([1, 1, 4])
        back.button("← Previous", key=f"{lab}_lesson_back", disabled=step == 1, on_click=_go, args=(step_key, step - 1))
        forward.button("Next →", key=f"{lab}_lesson_next", disabled=step == count, on_click=_go, args=(step_key, step + 1))
        revealed = [i for i in range(count) if (lesson.source, i) in reveals]
        if len(revealed) == count:
            right = sum(ss.get(f"{lab}_lesson_pick_{lesson.source}_{i}") ==
                        lesson.questions[i].choices[reveals[(lesson.source, i)].answer] for i in revealed)
            st.markdown(f"**End of the lesson:** {right} of {count} predictions were right.")
