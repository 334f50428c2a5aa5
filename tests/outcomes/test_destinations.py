"""Exit destinations: the state of the exit week mapped to disjoint named sets, checked by a
per-person loop; censored persons have none; overlapping sets and unnamed states raise."""

from __future__ import annotations

import numpy as np
import pytest

from dreamkit.errors import InputError
from dreamkit.outcomes.destinations import exit_destinations
from dreamkit.outcomes.durations import duration_to_exit

MASKS = {
    "work": np.array([False, True, False, False, False]),
    "unemployment": np.array([False, False, False, True, False]),
}
SICK = np.array([False, False, True, False, False])


def test_destinations_equal_a_loop() -> None:
    rng = np.random.default_rng(3)
    window = rng.choice(5, size=(200, 20), p=[0.05, 0.05, 0.8, 0.05, 0.05]).astype(np.uint8)
    window[:, 0] = 2
    dur = duration_to_exit(window, SICK, weeks=20)
    got = exit_destinations(window, dur, MASKS).to_list()
    for i in range(200):
        if not dur.event[i]:
            assert got[i] is None
            continue
        state = int(window[i, dur.weeks[i] - 1])
        expect = {1: "work", 3: "unemployment"}.get(state, "other")
        assert got[i] == expect
    assert set(got) == {None, "work", "unemployment", "other"}


def test_bad_destinations() -> None:
    window = np.array([[2, 4, 1]], dtype=np.uint8)
    dur = duration_to_exit(window, SICK, weeks=3)
    with pytest.raises(InputError, match="state id 4"):
        exit_destinations(window, dur, MASKS, other=None)
    with pytest.raises(InputError, match="disjoint"):
        exit_destinations(window, dur, {**MASKS, "both": MASKS["work"]})
    with pytest.raises(InputError, match="also a destination"):
        exit_destinations(window, dur, MASKS, other="work")
