"""The harder evaluation set (tests/camera_hard.py): measured figures, guarded.

The floors are the figures docs/camera.md reports for this run (sequence 0 of each
condition, the person detector on, the face cascades' crops enlarged twice) minus a small
margin. Sequences 0 and 1 were used while choosing the detector's settings, 2 and 3 while
choosing the enlargement (small faces: recall 0.882 without it); sequences 4 and 5,
reported apart in docs/camera.md, were run once, after. The target is 0.95 / 0.95 overall
and 0.90 in every condition.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from devices.vision.detect import Kind
from devices.vision.engine import PresenceEngine
from devices.vision.person import MODEL, MODEL_BYTES, PersonDetector
from devices.vision.segment import MODEL as SEGMENT_MODEL
from tests import camera_scenes as cs
from tests.camera_hard import CONDITIONS, PERSON, bodies, evaluate, total

MEASURED_PRECISION = 0.990
MEASURED_RECALL = 0.992
PER_CONDITION = 0.953  # the lowest: objects, precision
MARGIN = 0.02


def test_the_person_models_ship_inside_the_package() -> None:
    assert MODEL.stat().st_size == MODEL_BYTES
    digest = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert digest.startswith("7a23982e5825c809"), digest
    licence = (MODEL.parent / "LICENSE.person_ssdlite").read_text(encoding="utf-8")
    assert licence.lstrip().startswith("MIT License")
    assert SEGMENT_MODEL.stat().st_size == 249_505
    assert (
        Path(SEGMENT_MODEL.parent / "LICENSE")
        .read_text(encoding="utf-8")
        .lstrip()
        .startswith("Apache License")
    )


def test_a_missing_model_says_how_to_run_without_it(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"reinstall 'hallwatch\[camera\]'.*detect\.detectors"):
        PersonDetector(model=tmp_path / "person_ssdlite.pb")


def test_the_detector_finds_the_photographed_people_and_nobody_in_an_empty_counter() -> None:
    detector = PersonDetector()
    people = [s.bgr.clip(0, 255).astype("uint8") for s in bodies()]
    empty = cs.counter(1).back.clip(0, 255).astype("uint8")
    found = detector.boxes([*people, empty])
    assert all(len(f) >= 1 for f in found[:-1]), found
    assert found[-1] == [], found[-1]


def test_the_engine_uses_the_detector_when_configured() -> None:
    engine = PresenceEngine(cs.seats(), PERSON)
    assert engine.body_kind is Kind.PERSON
    assert isinstance(engine.segmenter, PersonDetector)


def test_the_hard_set_does_not_fall_below_the_measured_figures() -> None:
    scores = evaluate(sequences=1, workers=2)
    assert set(scores) == set(CONDITIONS)
    score = total(scores)

    assert score.precision >= MEASURED_PRECISION - MARGIN, str(score)
    assert score.recall >= MEASURED_RECALL - MARGIN, str(score)
    for cond, s in scores.items():
        assert min(s.precision, s.recall) >= PER_CONDITION - MARGIN, f"{cond}: {s}"


SMALL_FACES_RECALL = 0.984  # sequences 2–3; 0.882 with the face crops not enlarged


def test_small_faces_are_found_in_the_enlarged_face_crops() -> None:
    """Sequences 2–3 of small faces, on which the enlargement was chosen: LFW faces of
    20–26 px on drawn bodies, which only the face cascades can find."""
    score = evaluate(sequences=2, conditions=("small faces",), workers=2, first=2)["small faces"]
    assert score.recall >= SMALL_FACES_RECALL - MARGIN, str(score)
    assert score.precision >= PER_CONDITION - MARGIN, str(score)
