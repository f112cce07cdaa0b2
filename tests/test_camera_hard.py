"""The harder evaluation set (tests/camera_hard.py): measured figures, guarded.

These floors are the figures docs/camera.md reports for this run (one sequence per
condition) minus a small margin — NOT the issue's target (0.95 / 0.95 overall, 0.90 per
condition), which this code does not reach yet; docs/camera.md gives the real figures.
"""

from __future__ import annotations

from pathlib import Path

from devices.vision.segment import MODEL
from tests.camera_hard import CONDITIONS, evaluate, total

MEASURED_PRECISION = 0.968
MEASURED_RECALL = 0.751
MARGIN = 0.02


def test_the_person_model_ships_inside_the_package() -> None:
    assert MODEL.is_file()
    assert MODEL.stat().st_size == 249_505
    assert (
        Path(MODEL.parent / "LICENSE")
        .read_text(encoding="utf-8")
        .lstrip()
        .startswith("Apache License")
    )


def test_the_hard_set_does_not_fall_below_the_measured_figures() -> None:
    scores = evaluate(sequences=1, workers=2)
    assert set(scores) == set(CONDITIONS)
    score = total(scores)

    assert score.precision >= MEASURED_PRECISION - MARGIN, str(score)
    assert score.recall >= MEASURED_RECALL - MARGIN, str(score)
