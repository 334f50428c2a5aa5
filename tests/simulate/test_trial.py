"""Trial and register: reproducibility, columns, codes, coverage, exports."""

from __future__ import annotations

from importlib import resources

import numpy as np
import polars as pl
import pytest

from dreamkit.design import columns as C
from dreamkit.errors import CodeMapError, InputError
from dreamkit.register import CodeMap, read_wide
from dreamkit.register.calendar import parse_week_label
from dreamkit.simulate import SimulatedTrial, TrueEffects, simulate_trial
from dreamkit.simulate.trial import FOLLOW_UP, PRE_WEEKS, SPELL_WEEKS


def test_same_seed_same_output_and_different_seed_differs() -> None:
    a, b = simulate_trial(seed=3), simulate_trial(seed=3)
    c = simulate_trial(seed=4)
    assert a.trial.equals(b.trial)
    assert np.array_equal(a.register.states, b.register.states)
    assert np.array_equal(a.codes, b.codes)
    assert a.truth.paths.equals(b.truth.paths)
    assert not a.trial.equals(c.trial)
    assert a.register.states.shape != c.register.states.shape or not np.array_equal(
        a.register.states, c.register.states
    )


def test_canonical_columns_and_types(reference: SimulatedTrial) -> None:
    t = reference.trial
    assert t[C.PERSON].dtype == pl.Int64 and t[C.PERSON].n_unique() == t.height
    assert t[C.TREATED].dtype == pl.Int8
    assert t[C.ALLOCATION_DATE].dtype == pl.Date and t[C.TEAM_LAST_ALLOCATION].dtype == pl.Date
    for item in C.UWSES_ITEMS:
        assert t[item].is_between(0, 4).all()
    assert (t[C.UWSES] == t.select(pl.sum_horizontal(C.UWSES_ITEMS)).to_series()).all()
    for name in ("female", "partner", "ordinary_job", "mental_cause", "prior_sick_leave"):
        assert t[name].dtype == pl.Int8 and set(t[name].unique().to_list()) <= {0, 1}
    assert t["expected_return"].is_between(1, 5).all()


def test_register_covers_every_persons_window(reference: SimulatedTrial) -> None:
    reg = reference.register
    rows = reg.rows_of(reference.trial[C.PERSON])
    weeks = reference.trial[C.ALLOCATION_WEEK].to_numpy()[rows >= 0]
    assert weeks.min() - PRE_WEEKS >= reg.first_week
    assert weeks.max() + FOLLOW_UP + SPELL_WEEKS - 1 <= reg.last_week


def test_everyone_is_on_sickness_benefit_in_the_allocation_week(
    reference: SimulatedTrial,
) -> None:
    reg = reference.register
    rows = reg.rows_of(reference.trial[C.PERSON])
    ok = rows >= 0
    cols = reference.trial[C.ALLOCATION_WEEK].to_numpy()[ok] - reg.first_week
    in_set = reg.codemap.mask("sickness_duration")[reg.states[rows[ok], cols]]
    assert in_set.all()


def test_codes_come_from_the_code_map(reference: SimulatedTrial) -> None:
    cmap = reference.register.codemap
    allowed = {code for state in cmap.states for code in cmap.codes_of(state)}
    used = set(np.unique(reference.codes).tolist()) - {-1}
    assert used and used <= allowed
    # the register is the code map's reading of the codes and flags
    states, n_unknown = cmap.to_states(reference.codes, reference.employed)
    assert n_unknown == 0 and np.array_equal(states, reference.register.states)


def test_a_changed_code_map_changes_the_codes() -> None:
    doc = CodeMap.default()
    shipped = resources.files("dreamkit.register").joinpath("codemaps/dream_default.toml")
    text = shipped.read_text(encoding="utf-8").replace("codes = [890, 891]", "codes = [1890]")
    other = CodeMap.from_toml_text(text)
    sim = simulate_trial(seed=1, codemap=other)
    assert 1890 in np.unique(sim.codes) and 890 not in np.unique(sim.codes)
    assert doc.codes_of("sickness_benefit") != other.codes_of("sickness_benefit")


def test_code_map_without_the_simulators_sets_is_rejected() -> None:
    text = "[states.sickness_benefit]\ncodes = [1]\n[sets]\nemployment = ['ordinary_employment']\n"
    with pytest.raises(CodeMapError):
        simulate_trial(seed=1, codemap=CodeMap.from_toml_text(text))


def test_wide_codes_round_trip_through_read_wide(reference: SimulatedTrial) -> None:
    wide = reference.wide_codes()
    weeks = [c for c in wide.columns if c.startswith("y_")]
    assert all(wide[c].dtype == pl.Int16 for c in weeks)
    assert parse_week_label(weeks[0]) == reference.register.first_week
    assert any(c.startswith("branche_") for c in wide.columns)
    back = read_wide(wide, employment="columns")
    assert np.array_equal(back.states, reference.register.states)
    assert back.person_ids.equals(reference.register.person_ids)


def test_long_codes_hold_exactly_the_coded_weeks(reference: SimulatedTrial) -> None:
    long = reference.long_codes()
    assert long.columns == ["person_id", "week", "code"]
    assert long.height == int((reference.codes != -1).sum())
    assert long["code"].null_count() == 0


def test_summary_and_repr_show_no_person_ids(reference: SimulatedTrial) -> None:
    text = reference.summary() + repr(reference)
    assert "568" in text and "43 teams in 26 municipalities" in text
    for pid in reference.trial[C.PERSON].to_list():
        assert str(pid) not in text


def test_bad_arguments_raise_typed_errors() -> None:
    with pytest.raises(InputError):
        simulate_trial(seed=1, link="probit")
    with pytest.raises(InputError):
        simulate_trial(seed=1, n_unmatched=-1)
    with pytest.raises(InputError):
        TrueEffects(low_cutoff=30)
