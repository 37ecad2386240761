"""A student's own 2-D points (dgm_core.data.points): CSV files read, bad files refused with a
message that names the problem, and the accepted cloud scaled without changing its shape."""
import numpy as np
import pytest

from dgm_core.data import DatasetError, sample_toy, toy_modes
from dgm_core.data.points import MAX_POINTS, SCALED_EXTENT, points_from_drawing, read_points_csv


def csv(rows, header="x,y"):
    return ("\n".join(([header] if header else []) + [",".join(map(str, r)) for r in rows]) + "\n").encode()


def ring(n=200, seed=0):
    angle = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    return np.stack([10 + 3 * np.cos(angle), -4 + 3 * np.sin(angle)], 1)


@pytest.mark.parametrize("header", ["x,y", "", "y,label,x"])
def test_a_csv_with_or_without_a_header_gives_the_same_cloud_scaled_into_the_toys_square(header):
    points = ring()
    rows = [(p[1], "a", p[0]) for p in points] if header == "y,label,x" else points.tolist()
    cloud = read_points_csv(csv(rows, header), "ring.csv")
    assert cloud.points.shape == (200, 2) and cloud.points.dtype == np.float32
    assert np.abs(cloud.points).max() == pytest.approx(SCALED_EXTENT, rel=1e-6)
    # Shape kept: one scale for both axes, undone exactly by the reported scale and offset.
    assert np.allclose(cloud.points / cloud.scale + np.array(cloud.offset), points, atol=1e-4)
    assert cloud == read_points_csv(csv(points.tolist()), "other name.csv")   # the same data


BAD_FILES = [
    (b"", "is empty"),
    (b"\n \n", "is empty"),
    (b"a,b,c\n1,2,3\n", "has no columns named x and y"),
    (b"1,2,3\n4,5,6\n", "row 1 has 3 columns"),
    (b"x,y\n", "has a header but no points"),
    (csv([(1, 2)] * 5 + [(1, "two")] + [(3, 4)] * 10), "row 7 has 'two', which is not a number"),
    (csv([(1, 2)] * 12 + [(3,)]), "row 14 has 1 column"),
    (csv([(1, 2)] * 5 + [("nan", 1)] + [(3, 4)] * 10), "row 7 is nan,1, not two finite numbers"),
    (csv([(1, 2)] * 5 + [("inf", 1)] + [(3, 4)] * 10), "row 7 is inf,1, .*NaN or infinity"),
    (csv([(i, i) for i in range(MAX_POINTS + 1)]), "has 10,001 points; at most 10,000"),
    (csv([(1, 2)] * 3), "has 3 points; at least 10"),
    (csv([(1, 2)] * 20), "all 20 points are the same point"),
    ("x,y\n1,2\n".encode("utf-16"), "not a text file"),
]


@pytest.mark.parametrize("data, message", BAD_FILES, ids=[message for _, message in BAD_FILES])
def test_bad_files_are_refused_with_what_is_wrong(data, message):
    with pytest.raises(DatasetError, match=message):
        read_points_csv(data, "points.csv")


def test_own_points_feed_the_live_models_pool_and_have_no_modes():
    cloud = read_points_csv(csv(ring().tolist()), "ring.csv")
    pool = sample_toy(cloud, 5000, seed=1)
    assert pool.shape == (5000, 2)
    # Drawn with replacement from the cloud: every pool point is one of the cloud's points.
    distances = np.linalg.norm(pool.numpy()[:, None] - cloud.points[None], axis=2).min(1)
    assert distances.max() == 0
    assert toy_modes(cloud) is None


def test_a_drawing_becomes_points_with_y_up():
    mask = np.zeros((100, 100), dtype=bool)
    mask[10, 20:80] = True            # a stroke near the top
    mask[90, 20:40] = True            # a shorter one near the bottom
    cloud = points_from_drawing(mask)
    assert len(cloud.points) == 80
    top = cloud.points[:60]           # pixel rows are read top to bottom
    assert top[:, 1].min() > cloud.points[60:, 1].max()
    with pytest.raises(DatasetError, match="draw at least a few strokes"):
        points_from_drawing(np.zeros((50, 50), dtype=bool))
