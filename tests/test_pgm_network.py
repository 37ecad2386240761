"""Representation: validation, editing, the text spec and BIF (checked against pgmpy's reader)."""
import random

import numpy as np
import pytest

from dgm_core.pgm import BayesianNetwork, NetworkError, example_names, load_example
from dgm_core.pgm.examples import CLASSIC

from .oracles import random_network

SPRINKLER_STATES = {"Cloudy": ["no", "yes"], "Rain": ["no", "yes"]}


def test_from_edges_gives_binary_uniform_cpts():
    bn = BayesianNetwork.from_edges([("A", "B"), ("B", "C")])
    assert bn.nodes == ("A", "B", "C")
    assert bn.states["A"] == ("0", "1")
    assert bn.parents["C"] == ("B",)
    assert bn.cpts["B"].shape == (2, 2)
    assert np.allclose(bn.cpts["B"], 0.5)


@pytest.mark.parametrize(
    "build, fragment",
    [
        (lambda: BayesianNetwork.from_edges([("A", "B"), ("B", "C"), ("C", "A")]), "cycle"),
        (lambda: BayesianNetwork.from_edges([("A", "A")]), "Self-loop A -> A"),
        (lambda: BayesianNetwork({"A": ["0", "1"]}, {"A": ["Ghost"]}), "unknown node 'Ghost'"),
        (lambda: BayesianNetwork({"A": []}), "empty state list"),
        (lambda: BayesianNetwork({"A": ["x", "x"]}), "twice"),
        (lambda: BayesianNetwork(SPRINKLER_STATES, {"Rain": ["Cloudy"]}, {"Cloudy": [0.5, 0.5], "Rain": [0.5, 0.5]}), "shape"),
        (lambda: BayesianNetwork(SPRINKLER_STATES, {}, {"Cloudy": [0.5, 0.6], "Rain": [0.5, 0.5]}), "sums to 1.1"),
        (lambda: BayesianNetwork(SPRINKLER_STATES, {}, {"Cloudy": [1.5, -0.5], "Rain": [0.5, 0.5]}), "negative probability"),
        (lambda: BayesianNetwork(SPRINKLER_STATES, {}, {"Cloudy": [0.5, 0.5]}), "has no CPT"),
        (lambda: BayesianNetwork({"bad name": ["0"]}), "may not contain spaces"),
        (lambda: load_example("sprinkler").with_node("Rain"), "Duplicate node"),
    ],
)
def test_invalid_networks_get_clear_errors(build, fragment):
    with pytest.raises(NetworkError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_cycle_message_names_the_cycle():
    with pytest.raises(NetworkError) as err:
        BayesianNetwork.from_edges([("S", "A"), ("A", "B"), ("B", "C"), ("C", "A"), ("C", "D")])
    message = str(err.value)
    cycle = message.split("cycle ")[1].split(":")[0].split(" -> ")
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["A", "B", "C"]
    for a, b in zip(cycle, cycle[1:]):  # each step is a real edge
        assert (a, b) in {("A", "B"), ("B", "C"), ("C", "A")}


def test_edits_return_new_networks_and_keep_the_old_one():
    bn = load_example("sprinkler")
    before = bn.to_text()
    with pytest.raises(NetworkError, match="cycle"):
        bn.with_edge("WetGrass", "Cloudy")
    assert bn.to_text() == before
    added = bn.with_edge("Sprinkler", "Rain")
    assert added.parents["Rain"] == ("Cloudy", "Sprinkler")
    # Copying the CPT across the new parent leaves the distribution unchanged.
    for v in bn.nodes:
        assert np.allclose(added.query([v]).values, bn.query([v]).values)
    removed = added.without_edge("Sprinkler", "Rain")
    assert removed == bn
    smaller = bn.without_node("Cloudy")
    assert "Cloudy" not in smaller.nodes and smaller.parents["Rain"] == ()
    assert np.allclose(smaller.cpts["Rain"], bn.cpts["Rain"].mean(axis=0))
    with pytest.raises(NetworkError, match="no edge"):
        bn.without_edge("Rain", "Cloudy")
    grown = bn.with_node("Season", ["winter", "summer"])
    assert grown.states["Season"] == ("winter", "summer")


def test_with_cpt_validates_rows():
    bn = load_example("sprinkler")
    with pytest.raises(NetworkError, match="Cloudy=yes"):
        bn.with_cpt("Rain", [[0.8, 0.2], [0.3, 0.3]])
    assert bn.with_cpt("Rain", [[0.5, 0.5], [0.1, 0.9]]).cpts["Rain"][1, 1] == 0.9


def test_joint_probability_is_the_product_of_cpt_entries():
    bn = load_example("student")
    p = bn.joint_probability({"Difficulty": "easy", "Intelligence": "high", "Grade": "A", "SAT": "high", "Letter": "strong"})
    assert p == pytest.approx(0.6 * 0.3 * 0.9 * 0.8 * 0.9)
    with pytest.raises(NetworkError, match="missing"):
        bn.joint_probability({"Difficulty": "easy"})


@pytest.mark.parametrize("name", example_names())
def test_every_example_round_trips_through_text_and_bif(name):
    bn = load_example(name)
    assert BayesianNetwork.from_text(bn.to_text()) == bn
    assert BayesianNetwork.from_bif(bn.to_bif()) == bn


def test_random_networks_round_trip_exactly():
    rng = random.Random(1)
    for _ in range(50):
        bn = random_network(rng, rng.randint(1, 7), zeros=True)
        again = BayesianNetwork.from_text(bn.to_text())
        assert again.parents == bn.parents
        assert all(np.array_equal(again.cpts[v], bn.cpts[v]) for v in bn.nodes)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("A [x, y]\n    0.5 0.5\nA [x, y]\n", "line 3: duplicate node 'A'"),
        ("A [x, y] | B\n", "unknown node 'B'"),
        ("A [x, y]\n    0.5 0.2\n", "sums to 0.7"),
        ("A [x, y]\n    0.5 zz\n", "line 2"),
        ("A [x, y]\nB [u, v] | A\n    x: 0.5 0.5\n", "missing the CPT row"),
        ("A [x, y]\nB [u, v] | A\n    q: 0.5 0.5\n", "'q' is not a state of 'A'"),
        ("    0.5 0.5\n", "before any node"),
        ("A x, y\n", "not a node header"),
        ("A [x, y] | B\nB [u, v] | A\n", "cycle"),
    ],
)
def test_text_spec_errors(text, fragment):
    with pytest.raises(NetworkError, match=fragment):
        BayesianNetwork.from_text(text)


pgmpy_bif = pytest.importorskip("pgmpy.readwrite", reason="pgmpy is the BIF oracle")


@pytest.mark.parametrize("name", ["asia", "child", "alarm", "hailfinder"])
def test_bif_reader_agrees_with_pgmpy(name, tmp_path):
    from dgm_core.pgm.examples import NETWORKS_DIR

    ours = load_example(name)
    import gzip

    text = gzip.decompress((NETWORKS_DIR / f"{name}.bif.gz").read_bytes()).decode()
    for source in (text, ours.to_bif()):
        model = pgmpy_bif.BIFReader(string=source).get_model()
        assert set(model.nodes()) == set(ours.nodes)
        assert set(model.edges()) == set(ours.edges)
        for cpd in model.get_cpds():
            v = cpd.variable
            assert list(cpd.state_names[v]) == list(ours.states[v])
            # pgmpy stores P(v | parents) as (card_v, *parent cards) with its own parent order.
            values = cpd.values  # axes: v, then cpd.variables[1:]
            order = [list(cpd.variables[1:]).index(p) + 1 for p in ours.parents[v]] + [0]
            for p in ours.parents[v]:
                assert list(cpd.state_names[p]) == list(ours.states[p])
            assert np.allclose(np.transpose(values, order), ours.cpts[v], atol=1e-6)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("variable A { type discrete [ 2 ] { x, y }; }", "no probability block"),
        ("variable A { type discrete [ 3 ] { x, y }; }", "declares 3 states but lists 2"),
        ("variable A { type discrete [ 2 ] { x, y }; } probability ( A ) { table 0.5, zz; }", "not a number"),
        ("variable A { type discrete [ 2 ] { x, y }; } probability ( A | B ) { (u) 0.5, 0.5; }", "unknown node 'B'"),
        ("variable A { type discrete [ 2 ] { x, y }; } probability ( A ) { table 0.5, 0.5;", "ended early"),
        ("nonsense", "unexpected 'nonsense'"),
    ],
)
def test_bif_errors(text, fragment):
    with pytest.raises(NetworkError, match=fragment):
        BayesianNetwork.from_bif(text)


def test_bif_from_missing_path_and_default_rows(tmp_path):
    with pytest.raises(NetworkError, match="does not exist"):
        BayesianNetwork.from_bif(str(tmp_path / "none.bif"))
    text = """network n { }
    variable A { type discrete [ 2 ] { x, y }; property "position = (1, 2)" ; }
    variable B { type discrete [ 2 ] { u, v }; }
    probability ( A ) { table 0.25, 0.75; }
    probability ( B | A ) { (x) 0.1, 0.9; default 0.5, 0.5; }
    """
    path = tmp_path / "tiny.bif"
    path.write_text(text)
    bn = BayesianNetwork.from_bif(path)
    assert bn.name == "tiny"
    assert bn.cpts["B"].tolist() == [[0.1, 0.9], [0.5, 0.5]]


def test_classic_networks_have_their_published_sizes():
    sizes = {name: len(load_example(name)) for name in CLASSIC}
    assert sizes == {"cancer": 5, "earthquake": 5, "survey": 6, "asia": 8, "sachs": 11, "child": 20,
                     "insurance": 27, "alarm": 37, "hailfinder": 56, "hepar2": 70, "win95pts": 76,
                     "andes": 223, "pigs": 441}


def test_cpt_table_round_trip_and_bad_edits():
    bn = load_example("sprinkler")
    frame = bn.cpt_frame("WetGrass")
    assert list(frame.index) == ["Sprinkler=off, Rain=no", "Sprinkler=off, Rain=yes", "Sprinkler=on, Rain=no",
                                 "Sprinkler=on, Rain=yes"]
    assert bn.with_cpt_frame("WetGrass", frame) == bn
    frame.iloc[1] = [0.3, 0.7]
    assert bn.with_cpt_frame("WetGrass", frame).cpts["WetGrass"][0, 1].tolist() == [0.3, 0.7]
    frame.iloc[2, 0] = 0.5
    with pytest.raises(NetworkError, match="Sprinkler=on, Rain=no sums to 1.4"):
        bn.with_cpt_frame("WetGrass", frame)
    frame.iloc[2, 0] = float("nan")
    with pytest.raises(NetworkError, match="empty cell"):
        bn.with_cpt_frame("WetGrass", frame)


def test_parse_assignment():
    from dgm_core.pgm import parse_assignment

    bn = load_example("sprinkler")
    assert parse_assignment("WetGrass=wet, Cloudy = no", bn) == {"WetGrass": "wet", "Cloudy": "no"}
    assert parse_assignment("  ", bn) == {}
    for bad, fragment in (("WetGrass", "form Variable=state"), ("Snow=yes", "Unknown variable"),
                          ("Rain=maybe", "Unknown state"), ("Rain=no, Rain=yes", "twice")):
        with pytest.raises(NetworkError, match=fragment):
            parse_assignment(bad, bn)


# ------------------------------------------------------------------ issue 8: empty networks, CPT edits, uploads
@pytest.mark.parametrize(
    "build, fragment",
    [
        (lambda: BayesianNetwork({}), "at least one node"),
        (lambda: BayesianNetwork.from_edges([]), "at least one node"),
        (lambda: BayesianNetwork.from_text(""), "no nodes"),
        (lambda: BayesianNetwork.from_text("# only a comment\n\n   # and another\n"), "no nodes"),
        (lambda: BayesianNetwork.from_bif(""), "declares no variables"),
        (lambda: BayesianNetwork.from_bif("network empty {\n}\n"), "declares no variables"),
        (lambda: BayesianNetwork.from_text("Solo [a, b]\n").without_node("Solo"), "only node"),
    ],
)
def test_an_empty_network_is_refused_with_a_message(build, fragment):
    with pytest.raises(NetworkError, match=fragment):
        build()


def test_cpt_cell_edits_apply_to_the_current_cpt():
    bn = load_example("sprinkler")
    # A table editor reports {row position: {column: value}}; rows are parent combinations in
    # cpt_frame order (Sprinkler, Rain) = (off, no), (off, yes), (on, no), (on, yes).
    edited = bn.with_cpt_edits("WetGrass", {1: {"dry": 0.3, "wet": "0.7"}, 3: {"dry": 0.5, "wet": 0.5}})
    expected = np.array(bn.cpts["WetGrass"])
    expected[0, 1] = [0.3, 0.7]
    expected[1, 1] = [0.5, 0.5]
    assert np.array_equal(edited.cpts["WetGrass"], expected)
    assert all(np.array_equal(edited.cpts[v], bn.cpts[v]) for v in bn.nodes if v != "WetGrass")
    assert bn.with_cpt_edits("WetGrass", {}) == bn


@pytest.mark.parametrize(
    "edits, fragment",
    [
        ({2: {"dry": 0.5}}, r"Sprinkler=on, Rain=no sums to 1.4 \(0.5 \+ 0.9\)"),
        ({0: {"wet": None}}, "empty"),
        ({0: {"wet": "lots"}}, "'lots' is not a number"),
        ({0: {"damp": 0.5}}, "no column 'damp'"),
        ({7: {"wet": 0.5}}, "no row 7"),
    ],
)
def test_bad_cpt_cell_edits_quote_the_edited_values(edits, fragment):
    bn = load_example("sprinkler")
    with pytest.raises(NetworkError, match=fragment):
        bn.with_cpt_edits("WetGrass", edits)


@pytest.mark.parametrize("row", ["nan nan", "nan 1", "inf 0", "0.5 -inf"])
def test_a_non_finite_spec_row_names_its_line(row):
    with pytest.raises(NetworkError) as err:
        BayesianNetwork.from_text(f"A [x, y]\n    0.5 0.5\nB [u, v]\n    {row}\n")
    message = str(err.value)
    assert message.startswith("line 4:") and "'B'" in message and "finite" in message, message
    assert "row(s) :" not in message


def test_a_missing_root_row_names_the_prior():
    # Two rows for a root: the second is 'given twice'; a root with no rows is uniform.
    assert np.allclose(BayesianNetwork.from_text("A [x, y, z]\n").cpts["A"], 1 / 3)
    with pytest.raises(NetworkError, match="line 3: the prior of 'A' is given twice"):
        BayesianNetwork.from_text("A [x, y]\n    0.5 0.5\n    0.5 0.5\n")


def _broken_bif_line(text: str, needle: str) -> int:
    """The 1-based line of the first line containing ``needle`` (computed here, not by the reader)."""
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    "old, new, needle",
    [
        ("probability ( xray | either ) {", "probability ( xray | either {", "probability ( xray | either {"),
        ("variable either {\n  type discrete", "variable either {\n  type discret", "type discret "),
        ("  (yes) 0.98, 0.02;", "  (yes) 0.98, O.02;", "O.02"),
        ("variable smoke {", "varable smoke {", "varable smoke"),
    ],
)
def test_bif_parse_errors_name_the_line(old, new, needle):
    good = load_example("asia").to_bif()
    assert old in good
    bad = good.replace(old, new, 1)
    with pytest.raises(NetworkError, match=rf"line {_broken_bif_line(bad, needle)}\b"):
        BayesianNetwork.from_bif(bad)


def test_bif_bytes_get_plain_messages():
    import gzip

    from dgm_core.pgm import MAX_BIF_BYTES, read_bif_bytes

    asia = load_example("asia")
    good = asia.to_bif().encode()
    assert read_bif_bytes(good, "mine.bif") == asia
    assert read_bif_bytes(gzip.compress(good), "mine.bif.gz").name == "mine"
    assert read_bif_bytes(b"\xef\xbb\xbf" + good, "bom.bif") == asia  # a byte-order mark is not an error
    cases = [
        (b"\x13\x8b not gzip", "mine.bif.gz", "mine.bif.gz is not a gzip-compressed file"),
        (gzip.compress(good)[:40], "cut.bif.gz", "cut.bif.gz is a damaged gzip file"),
        (b"network x {\n}\n\xbd\xff", "binary.bif", "binary.bif is not a text file"),
        (gzip.compress(b"\x00\xbd\xff"), "binary.bif.gz", "binary.bif.gz is not a text file"),
        (b"", "empty.bif", "empty.bif declares no variables"),
        (b"hello world\n", "notes.bif", "notes.bif, line 1: unexpected 'hello'"),
        (b" " * (MAX_BIF_BYTES + 1), "huge.bif", "the limit is 5 MB"),
    ]
    for data, name, fragment in cases:
        with pytest.raises(NetworkError) as err:
            read_bif_bytes(data, name)
        message = str(err.value)
        assert fragment in message, message
        for raw in ("codec", "Not a gzipped file", "(b'", "\\x"):
            assert raw not in message, message


def test_a_compressed_upload_is_judged_by_what_it_expands_to():
    """A 1 MB .bif.gz that expands to 1 GB of text was decompressed whole (2.1 GB of memory and 30 s before
    its refusal). Now decompression stops once the text passes the limit: the memory used stays within a
    few times the limit, whatever the file expands to (counted with tracemalloc, not timed)."""
    import gzip
    import tracemalloc

    from dgm_core.pgm import MAX_BIF_BYTES, read_bif_bytes

    bomb = gzip.compress(b"network x {}\n" + b" " * 2**30, compresslevel=9)
    assert len(bomb) < MAX_BIF_BYTES                       # small enough to pass the upload limit
    tracemalloc.start()
    try:
        with pytest.raises(NetworkError, match=r"bomb.bif.gz expands to more than 5 MB of text .* refused"):
            read_bif_bytes(bomb, "bomb.bif.gz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_BIF_BYTES, peak
    # just under the limit still reads, and a file of two gzip members is read whole
    asia = load_example("asia").to_bif().encode()
    padded = asia + b"\n" * (MAX_BIF_BYTES - len(asia))
    assert read_bif_bytes(gzip.compress(padded), "padded.bif.gz").nodes == load_example("asia").nodes
    two = gzip.compress(asia[:100]) + gzip.compress(asia[100:])
    assert read_bif_bytes(two, "two.bif.gz") == load_example("asia")
