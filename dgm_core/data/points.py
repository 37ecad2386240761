"""A student's own 2-D points, for the live-training labs: read from a CSV file, or drawn by hand.

Every refusal says what is wrong with the file and how to fix it (`DatasetError`). Accepted
points are centred and scaled into the toy distributions' square (largest |coordinate| 2.5), since
the live models and panels are sized for it; the shape of the cloud is kept (one scale for both
axes) and the scale is reported.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, field

import numpy as np

from dgm_core.data.errors import DatasetError

MAX_POINTS = 10_000
MIN_POINTS = 10
MAX_FILE_BYTES = 1_000_000
SCALED_EXTENT = 2.5
EXAMPLE = "a header row `x,y`, then one point per row such as `0.5,-1.2`"


@dataclass(frozen=True, eq=False)
class OwnPoints:
    """A student's point cloud, as a live model's data: `points` (n, 2) float32, already scaled.
    Two clouds are the same data when their points are (compared by digest)."""
    name: str
    points: np.ndarray = field(repr=False)
    scale: float                      # original = points / scale + offset
    offset: tuple[float, float]
    digest: str

    def __eq__(self, other) -> bool:
        return isinstance(other, OwnPoints) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __str__(self) -> str:
        return f"{self.name} ({len(self.points):,} points)"


def own_points(points, name: str) -> OwnPoints:
    """Check an (n, 2) array of points and scale it for the live models."""
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise DatasetError(f"{name}: expected two coordinates per point (x, y); got an array of shape {x.shape}.")
    if len(x) < MIN_POINTS:
        raise DatasetError(f"{name} has {len(x)} point{'s' * (len(x) != 1)}; at least {MIN_POINTS} are needed "
                           "to train on. Add more rows.")
    if len(x) > MAX_POINTS:
        raise DatasetError(f"{name} has {len(x):,} points; at most {MAX_POINTS:,} are accepted (a live model "
                           f"sees a batch of 128 at a time). Keep a random subset of {MAX_POINTS:,}.")
    if not np.isfinite(x).all():
        row = int(np.flatnonzero(~np.isfinite(x).all(1))[0])
        raise DatasetError(f"{name}: point {row + 1} is {x[row].tolist()}, not two finite numbers (NaN or "
                           "infinity). Remove or fix that row.")
    offset = x.mean(0)
    extent = np.abs(x - offset).max()
    if not extent > 0:
        raise DatasetError(f"{name}: all {len(x)} points are the same point {x[0].tolist()}; there is no "
                           "distribution to learn.")
    scale = SCALED_EXTENT / extent
    scaled = ((x - offset) * scale).astype(np.float32)
    return OwnPoints(name, scaled, float(scale), (float(offset[0]), float(offset[1])),
                     hashlib.sha256(scaled.tobytes()).hexdigest()[:16])


def read_points_csv(data: bytes, name: str = "the file") -> OwnPoints:
    """Points from CSV text: two numeric columns, with or without a header row; with a header,
    columns named x and y are used (other columns ignored)."""
    if len(data) > MAX_FILE_BYTES:
        raise DatasetError(f"{name} is {len(data) / 1e6:.1f} MB; a file of points is at most "
                           f"{MAX_FILE_BYTES / 1e6:.0f} MB ({MAX_POINTS:,} rows of x,y).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{name} is not a text file (it is not UTF-8): save it as CSV: {EXAMPLE}.") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise DatasetError(f"{name} is empty: write {EXAMPLE}.")
    header = [cell.strip().lower() for cell in rows[0]]
    columns, first_data_row = (0, 1), 1
    if not all(_is_number(cell) for cell in rows[0]):
        first_data_row = 2
        if "x" in header and "y" in header:
            columns = (header.index("x"), header.index("y"))
        elif len(header) != 2:
            raise DatasetError(f"{name}: the header {rows[0]} has no columns named x and y. Name the two "
                               "coordinate columns x and y, or keep only those two columns.")
        rows = rows[1:]
        if not rows:
            raise DatasetError(f"{name} has a header but no points under it.")
    elif len(rows[0]) != 2:
        raise DatasetError(f"{name}: row 1 has {len(rows[0])} columns; without a header a file of points has "
                           "exactly two (x, y). Add a header naming the columns x and y, or drop the others.")
    if len(rows) > MAX_POINTS:
        raise DatasetError(f"{name} has {len(rows):,} points; at most {MAX_POINTS:,} are accepted (a live model "
                           f"sees a batch of 128 at a time). Keep a random subset of {MAX_POINTS:,}.")
    points = []
    for number, row in enumerate(rows, start=first_data_row):
        if len(row) <= max(columns):
            raise DatasetError(f"{name}: row {number} has {len(row)} column{'s' * (len(row) != 1)} "
                               f"({','.join(row)}); every row needs an x and a y.")
        cells = [row[c].strip() for c in columns]
        bad = [cell for cell in cells if not _is_number(cell)]
        if bad:
            raise DatasetError(f"{name}: row {number} has {bad[0]!r}, which is not a number. Every x and y must "
                               "be a number such as 0.5 or -1.2e3.")
        values = [float(cell) for cell in cells]
        if not all(math.isfinite(v) for v in values):
            raise DatasetError(f"{name}: row {number} is {','.join(cells)}, not two finite numbers (NaN or "
                               "infinity). Remove or fix that row.")
        points.append(values)
    return own_points(np.array(points), name)


def _is_number(text: str) -> bool:
    """A float literal, NaN and infinity included (those are refused later, with their row)."""
    try:
        float(text.strip())
    except ValueError:
        return False
    return bool(text.strip())


def points_from_drawing(mask: np.ndarray, name: str = "your drawing", max_points: int = 2000,
                        seed: int = 0) -> OwnPoints:
    """Points from a drawn image: every inked pixel (mask True) is a point, y pointing up; at most
    `max_points` of them, drawn at random (seeded) so a long stroke does not swamp the rest."""
    rows, cols = np.nonzero(np.asarray(mask, dtype=bool))
    if len(rows) < MIN_POINTS:
        raise DatasetError(f"{name} has {len(rows)} inked pixels; draw at least a few strokes "
                           f"({MIN_POINTS} pixels) before training.")
    points = np.stack([cols, -rows], axis=1).astype(np.float64)
    if len(points) > max_points:
        keep = np.random.default_rng(seed).choice(len(points), max_points, replace=False)
        points = points[np.sort(keep)]
    return own_points(points, name)


def describe(points: OwnPoints) -> str:
    def shown(value: float) -> str:          # no rounding noise such as -1.3e-17 for a centre at 0
        return f"{round(value, 6) + 0.0:.3g}"

    return (f"{points}: centred on ({shown(points.offset[0])}, {shown(points.offset[1])}) and scaled by "
            f"{points.scale:.3g} so the largest |coordinate| is {SCALED_EXTENT:g}")


def sample_own(points: OwnPoints, n: int, seed: int | None = 0):
    """n points drawn with replacement from the cloud (the live models' pool)."""
    import torch

    index = np.random.default_rng(seed).integers(0, len(points.points), n)
    return torch.from_numpy(points.points[index])


__all__ = ["MAX_POINTS", "OwnPoints", "own_points", "read_points_csv", "points_from_drawing", "describe",
           "sample_own"]
