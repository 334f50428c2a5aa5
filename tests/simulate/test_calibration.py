"""Calibration against the reference study's published levels.

The checks run on ~7,000 simulated persons (500 teams), where the sampling SD of a share is
about 0.01 or less; the bands are the published ranges widened by a few points because the
simulator is calibrated to them approximately (by a few parameters), not fitted exactly.
"""

from __future__ import annotations

import numpy as np

from dreamkit.design import columns as C
from dreamkit.simulate import SimulatedTrial
from dreamkit.simulate.summary import pre_window_shares
from dreamkit.simulate.trial import FOLLOW_UP


def test_uwses_mean_and_low_share(large: SimulatedTrial) -> None:
    uwses = large.trial[C.UWSES].to_numpy()
    assert abs(uwses.mean() - 11) < 0.5  # published mean about 11
    assert abs(np.mean(uwses <= 10) - 0.46) < 0.04  # 263 of 566 low (0-10)


def test_pre_allocation_shares_near_published_levels(large: SimulatedTrial) -> None:
    emp = pre_window_shares(large.trial, large.register, "employment").mean(axis=0)
    sick = pre_window_shares(large.trial, large.register, "sickness").mean(axis=0)
    # windows 104-92 ... 39-27: employment 60-65%, sickness 11-13%
    assert ((emp[:6] > 0.57) & (emp[:6] < 0.68)).all(), emp
    assert ((sick[:6] > 0.09) & (sick[:6] < 0.16)).all(), sick
    # 26-14: employment 43-45%, sickness 32-35%; 13-1: employment 4-6%, sickness 86-91%
    assert 0.39 < emp[6] < 0.49 and 0.29 < sick[6] < 0.38
    assert 0.02 < emp[7] < 0.09 and 0.83 < sick[7] < 0.94


def test_post_allocation_levels_near_published(large: SimulatedTrial) -> None:
    cmap = large.register.codemap
    y0, _ = large.truth.potential
    dur = cmap.mask("sickness_duration")[y0[:, :FOLLOW_UP]]
    never_left = dur.all(axis=1).mean()  # published: about 20%
    assert 0.15 < never_left < 0.27
    emp = cmap.mask("employment")[y0]
    spell = emp[:, :FOLLOW_UP] & emp[:, 1 : FOLLOW_UP + 1] & emp[:, 2 : FOLLOW_UP + 2]
    spell &= emp[:, 3 : FOLLOW_UP + 3]
    assert 0.38 < 1 - spell.any(axis=1).mean() < 0.58  # about half not back by week 81
    low = large.trial[C.UWSES].to_numpy() <= 10
    # control employment in week 81: 0.10-0.18 for low cut-offs, 0.26-0.38 for high
    assert 0.07 < emp[low, FOLLOW_UP - 1].mean() < 0.2
    assert 0.24 < emp[~low, FOLLOW_UP - 1].mean() < 0.45
