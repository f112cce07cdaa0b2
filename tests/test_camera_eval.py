"""The measured accuracy of seat states on photographs of people (tests/camera_scenes.py).

The floors are what docs/camera.md reports for this run (the test split, 4 sequences)
minus a small margin: a change that makes the agent see worse fails here.
"""

from __future__ import annotations

from tests.camera_scenes import TEST, evaluate

MEASURED_PRECISION = 0.935
MEASURED_RECALL = 0.969
MARGIN = 0.02


def test_precision_and_recall_do_not_fall_below_the_measured_figures() -> None:
    score = evaluate(TEST, sequences=4, workers=2)

    assert score.precision >= MEASURED_PRECISION - MARGIN, str(score)
    assert score.recall >= MEASURED_RECALL - MARGIN, str(score)
    assert score.unknown < 0.1 * (score.tp + score.fp + score.fn + score.tn), str(score)
