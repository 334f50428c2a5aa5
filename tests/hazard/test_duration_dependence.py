"""Duration-dependence specifications and the merging of intervals without exits."""

from __future__ import annotations

import numpy as np
import pytest

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.duration.duration_dependence import (
    intervals,
    log_polynomial,
    piecewise,
    resolve,
    week_dummies,
)


def _counts(events):
    ev = np.concatenate([[0.0], np.asarray(events, float)])
    at_risk = np.concatenate([[0.0], np.full(len(events), 100.0)])
    return ev, at_risk


def test_four_week_intervals():
    grid = resolve(intervals(4), *_counts([1] * 10))
    assert grid.labels == ("1-4", "5-8", "9-10")
    assert grid.lut[1:].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert grid.merges == ()


def test_interval_without_exits_is_merged_forward_and_reported():
    ev = [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]  # weeks 5-8 have no exits
    grid = resolve(intervals(4), *_counts(ev))
    assert grid.labels == ("1-4", "5-12")
    assert len(grid.merges) == 1 and "5-8, 9-12" in grid.merges[0]


def test_trailing_interval_without_exits_is_merged_backward():
    ev = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    grid = resolve(intervals(4), *_counts(ev))
    assert grid.labels == ("1-4", "5-10")
    assert grid.lut[9:].tolist() == [1, 1]


def test_no_merging_raises_naming_the_interval():
    with pytest.raises(EstimationError, match="weeks 5-8 has no exits"):
        resolve(intervals(4, merge_degenerate=False), *_counts([1, 0, 0, 0, 0, 0, 0, 0, 1]))


def test_all_exits_interval_is_degenerate_too():
    ev = np.concatenate([[0.0], [1, 1, 5, 5]])
    at_risk = np.concatenate([[0.0], [10, 9, 5, 5]])
    grid = resolve(week_dummies(), ev, at_risk)
    assert grid.labels == ("1", "2-4")  # 3-4 pooled still all exits: merged back


def test_piecewise_cut_points():
    grid = resolve(piecewise([2, 5]), *_counts([1] * 7))
    assert grid.labels == ("1-2", "3-5", "6-7")
    with pytest.raises(InputError):
        piecewise([5, 2])


def test_log_polynomial_basis():
    grid = resolve(log_polynomial(2), *_counts([1] * 5))
    b = grid.basis(np.array([1, np.e**2]).round().astype(int))
    np.testing.assert_allclose(b[0], [1, 0, 0])
    lt = np.log(7.0)
    np.testing.assert_allclose(grid.basis(np.array([7]))[0], [1, lt, lt**2])
    assert grid.basis_names == ("intercept", "log_t^1", "log_t^2")
