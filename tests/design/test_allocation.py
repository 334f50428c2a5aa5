"""Stratified pairwise allocation: the procedure's invariants, decliners, bad input, the log."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamkit.design.allocation import pairwise_allocation
from dreamkit.errors import DreamkitWarning, InputError, TrialDesignError


def eligible(n: int = 40, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "person_id": rng.choice(10**9, n, replace=False) + 10**9,
            "sex": rng.choice(["F", "M"], n),
            "young": rng.integers(0, 2, n),
        }
    )


def even(frame: pl.DataFrame) -> pl.DataFrame:
    """Drop one person from every odd-sized stratum (so everyone can be paired)."""
    counts = frame.group_by("sex", "young").len()
    odd = counts.filter(pl.col("len") % 2 == 1)
    drop = [
        frame.filter((pl.col("sex") == s) & (pl.col("young") == y))["person_id"][0]
        for s, y, _ in odd.iter_rows()
    ]
    return frame.filter(~pl.col("person_id").is_in(drop))


def test_pairs_are_split_within_strata_and_reproducible() -> None:
    frame = even(eligible())
    a = pairwise_allocation(frame, ["sex", "young"], seed=7)
    b = pairwise_allocation(frame, ["sex", "young"], seed=7)
    assert a.persons.equals(b.persons) and a.log.equals(b.log)
    c = pairwise_allocation(frame, ["sex", "young"], seed=8)
    assert not a.persons["treated"].equals(c.persons["treated"])
    p = a.persons
    assert p["treated"].null_count() == 0 and (p["allocation_status"] == "allocated").all()
    per_pair = p.group_by("pair").agg(
        pl.len(), pl.col("treated").sum().alias("t"), pl.col("stratum").n_unique().alias("s")
    )
    assert (
        (per_pair["len"] == 2).all() and (per_pair["t"] == 1).all() and (per_pair["s"] == 1).all()
    )
    # pairs are consecutive persons in the random order of their stratum
    for _, group in p.sort("order").group_by("stratum"):
        orders = group.sort("order")
        pairs = orders["pair"].to_list()
        assert pairs[0::2] == pairs[1::2]
    # the log records one 'allocated' event per person, no declines
    assert a.log.height == p.height and (a.log["event"] == "allocated").all()


def test_arms_are_fair_coins() -> None:
    frame = even(eligible(20, seed=3))
    treated = np.array(
        [
            pairwise_allocation(frame, ["sex"], seed=s).persons["treated"].to_numpy()
            for s in range(400)
        ]
    )
    share = treated.mean(axis=0)
    # each person's share treated: binomial(400, 1/2), sd 0.025; 5 sd bound for all persons
    assert np.all(np.abs(share - 0.5) < 0.125)
    assert abs(treated.mean() - 0.5) < 1e-12  # exactly half in every draw


def test_decliner_is_replaced_by_next_person_of_stratum() -> None:
    frame = eligible(30, seed=4)
    base = pairwise_allocation(frame, ["sex"], seed=1, n_pairs=5)
    first = base.persons.filter(pl.col("pair") == 1).sort("order")
    decliner = first["person_id"][0]
    stratum = first["stratum"][0]
    # the next person in the stratum's random order (order 3): pairs are formed sequentially,
    # so later pairs shift by one and the reserve shrinks by one
    same = base.persons.filter(pl.col("stratum") == stratum)
    nxt = same.filter(pl.col("order") == 3)["person_id"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = pairwise_allocation(frame, ["sex"], seed=1, n_pairs=5, declined=[decliner])
    p = a.persons
    row = p.filter(pl.col("person_id") == nxt)
    assert row["allocation_status"][0] == "replacement"
    assert row["pair"][0] == 1 and row["treated"][0] == first["treated"][0]
    dec = p.filter(pl.col("person_id") == decliner)
    assert dec["allocation_status"][0] == "declined" and dec["treated"][0] is None
    events = a.log.filter(pl.col("pair") == 1)["event"].to_list()
    assert events.count("declined") == 1 and events.count("replacement") == 1
    # the log's replacement row carries the next person's id (the user's own file)
    assert a.log.filter(pl.col("event") == "replacement")["person_id"][0] == nxt


def test_odd_person_and_stratum_of_one() -> None:
    frame = eligible(9, seed=2)
    with pytest.raises(TrialDesignError, match=r"without a pair|single person") as err:
        pairwise_allocation(frame, ["sex"], seed=0)
    for pid in frame["person_id"].to_list():
        assert str(pid) not in str(err.value)
    with pytest.warns(DreamkitWarning, match="unallocated") as rec:
        a = pairwise_allocation(frame, ["sex"], seed=0, odd="reserve")
    for w in rec:
        assert not any(str(pid) in str(w.message) for pid in frame["person_id"].to_list())
    assert (a.persons["allocation_status"] == "unpaired").sum() >= 1
    assert (
        a.log.filter(pl.col("event") == "unpaired").height
        == (a.persons["allocation_status"] == "unpaired").sum()
    )
    one = pl.DataFrame({"person_id": [1, 2, 3], "g": ["a", "a", "b"]})
    with pytest.raises(TrialDesignError, match="single person"):
        pairwise_allocation(one, ["g"], seed=0)


def test_unreplaceable_decliner_and_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = pl.DataFrame({"person_id": [11, 12, 13, 14], "g": ["a"] * 4})
    with pytest.warns(DreamkitWarning, match="incomplete"):
        a = pairwise_allocation(frame, ["g"], seed=0, declined=[11, 12, 13])
    assert "no replacement" in a.log["event"].to_list()
    assert a.allocated.height == 1
    with pytest.raises(TrialDesignError, match="3 pair"):
        pairwise_allocation(frame, ["g"], seed=0, n_pairs=3)
    with pytest.raises(InputError, match="not among"):
        pairwise_allocation(frame, ["g"], seed=0, declined=[99])
    with pytest.raises(InputError, match="missing"):
        pairwise_allocation(frame.with_columns(g=pl.lit(None, pl.String)), ["g"], seed=0)
    with pytest.raises(Exception, match="'h'"):
        pairwise_allocation(frame, ["h"], seed=0)
    with pytest.raises(InputError, match="stratum"):
        pairwise_allocation(frame, ["g"], seed=0, n_pairs={"g=b": 1})
    # pandas in, CSV log out
    b = pairwise_allocation(frame.to_pandas(), ["g"], seed=0, n_pairs={"g=a": 1})
    assert b.allocated.height == 2 and (b.persons["allocation_status"] == "reserve").sum() == 2
    path = tmp_path / "log.csv"
    b.write_log(path)
    back = pl.read_csv(path)
    assert back.columns == ["step", "stratum", "pair", "treated", "event", "order", "person_id"]
    assert back.height == b.log.height
    assert "person_id" not in repr(b) and "11" not in repr(b)


def test_decliners_use_up_the_stratum() -> None:
    frame = pl.DataFrame({"person_id": list(range(1, 6)), "g": ["a"] * 5})
    first = pairwise_allocation(frame, ["g"], seed=5, n_pairs=2)
    drawn = first.log.filter(pl.col("pair") == 1)["person_id"].to_list()
    # both members of pair 1 decline: persons 3 and 4 (in random order) replace them, and
    # one person is left for pair 2
    with pytest.warns(DreamkitWarning, match="used up after 1 of 2"):
        a = pairwise_allocation(frame, ["g"], seed=5, n_pairs=2, declined=drawn)
    assert a.allocated.height == 2
    assert (a.persons["allocation_status"] == "declined").sum() == 2
    assert (a.persons["allocation_status"] == "reserve").sum() == 1


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(2, 40),
    n_groups=st.integers(1, 4),
    decline_share=st.floats(0, 0.4),
)
def test_invariants(seed: int, n: int, n_groups: int, decline_share: float) -> None:
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {"person_id": rng.choice(10**6, n, replace=False), "g": rng.integers(0, n_groups, n)}
    )
    declined = frame["person_id"].filter(pl.Series(rng.random(n) < decline_share))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DreamkitWarning)
        a = pairwise_allocation(frame, ["g"], seed=seed, declined=declined, odd="reserve")
    p = a.persons
    assert p.height == n  # nobody dropped
    status = p["allocation_status"]
    assert set(status.unique().to_list()) <= {
        "allocated",
        "replacement",
        "declined",
        "reserve",
        "unpaired",
    }
    # decliners never take part; everyone taking part has a pair and an arm
    mine = p.filter(pl.col("person_id").is_in(declined.implode()))
    assert mine["treated"].null_count() == declined.len()
    assert mine["allocation_status"].is_in(["declined", "reserve", "unpaired"]).all()
    taking = p.filter(pl.col("treated").is_not_null())
    assert taking["pair"].null_count() == 0
    assert not taking["person_id"].is_in(declined.implode()).any()
    per_pair = taking.group_by("pair").agg(
        pl.len(), pl.col("treated").sum().alias("t"), pl.col("stratum").n_unique().alias("s")
    )
    assert (per_pair["s"] == 1).all()
    full = per_pair.filter(pl.col("len") == 2)
    assert (full["t"] == 1).all()
    # the log tells the same story
    events = a.log["event"].to_list()
    assert events.count("declined") == (status == "declined").sum()
    # every decline is followed by a replacement (who may decline too) or by no replacement
    assert events.count("replacement") + events.count("no replacement") == events.count("declined")
    assert events.count("replacement") >= (status == "replacement").sum()
    assert events.count("unpaired") == (status == "unpaired").sum()
    assert events.count("allocated") == 2 * a.log["pair"].drop_nulls().n_unique()
