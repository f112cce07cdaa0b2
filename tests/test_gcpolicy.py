"""The daemon's garbage-collection policy (monitor/ingest/gcpolicy.py), on this process's
collector."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from monitor.ingest.gcpolicy import NEVER, LongLived, daytime


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.collect()


def test_step_freezes_only_after_enough_collections() -> None:
    policy = LongLived(every=3)
    assert not policy.step()
    gc.collect(1)
    gc.collect(1)
    assert not policy.step() and policy.freezes == 0
    gc.collect(1)
    assert policy.step() and policy.freezes == 1
    assert gc.get_freeze_count() > 0
    assert not policy.step(), "counted again from the freeze on"


def test_a_frozen_cycle_that_dies_is_freed_by_the_nightly_sweep() -> None:
    policy = LongLived(every=1)
    node = Node()
    ref = weakref.ref(node)
    gc.collect(1)
    assert policy.step()  # the cycle is alive: frozen with the rest
    del node
    gc.collect()
    assert ref() is not None, "a frozen cycle is not looked at by ordinary collections"
    policy.sweep()
    assert ref() is None and policy.sweeps == 1


def test_a_young_cycle_is_collected_before_the_freeze() -> None:
    policy = LongLived(every=1)
    node = Node()
    ref = weakref.ref(node)
    del node
    gc.collect(1)  # may or may not reach it; the step's full collection does
    assert policy.step()
    assert ref() is None


def test_in_the_daytime_cpython_starts_no_full_collection() -> None:
    """Inside `daytime` the old generation is collected only when asked (the nightly sweep);
    the young ones as usual; the thresholds come back after."""
    before = gc.get_threshold()
    full: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.append(1)

    gc.callbacks.append(seen)
    try:
        with daytime():
            assert gc.get_threshold()[2] == NEVER
            kept = [Node() for _ in range(200_000)]  # many middle collections' worth
            assert not full, "no full collection of CPython's own"
            del kept
        assert gc.get_threshold() == before
        gc.collect()
        assert full == [1]  # an explicit one still runs
    finally:
        gc.callbacks.remove(seen)


def test_a_step_walks_only_the_young_and_middle_generations() -> None:
    policy = LongLived(every=1)
    gens: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gens.append(info["generation"])

    gc.collect(1)
    gc.callbacks.append(seen)
    try:
        assert policy.step()
    finally:
        gc.callbacks.remove(seen)
    assert 1 in gens and 2 not in gens  # (a young collection may come in between)


def test_daemons_side_by_side_leave_the_threshold_as_it_was() -> None:
    """Two daemons in one process (the tests run several), leaving in either order."""
    before = gc.get_threshold()
    first, second = daytime(), daytime()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[2] == NEVER, "one still runs"
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
