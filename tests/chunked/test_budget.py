import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamkit.chunked import parse_budget, plan_chunks
from dreamkit.chunked.budget import (
    BASE_BYTES,
    MAX_BATCH_ROWS,
    MIN_BATCH_ROWS,
    THREAD_WORK_BYTES,
)
from dreamkit.errors import InputError
from dreamkit.parallel import MAX_DEFAULT_THREADS, available_cores


@pytest.mark.parametrize(
    ("text", "expected"),
    [("4GB", 4 << 30), ("900 mb", 900 << 20), ("1.5GB", int(1.5 * (1 << 30))), (2 << 30, 2 << 30)],
)
def test_parse_budget_units(text, expected):
    assert parse_budget(text) == expected


@pytest.mark.parametrize("bad", ["lots", "-1GB", "4 GiB", True, "100MB", 10])
def test_parse_budget_rejects(bad):
    with pytest.raises(InputError):
        parse_budget(bad)


@settings(max_examples=60, deadline=None)
@given(
    budget=st.integers(1 << 30, 64 << 30),
    weeks=st.integers(1, 3_000),
    per_person=st.integers(0, 20_000),
)
def test_plan_stays_within_budget(budget, weeks, per_person):
    plan = plan_chunks(budget, weeks, bytes_per_person=per_person)
    assert plan.persons >= 1
    assert MIN_BATCH_ROWS <= plan.batch_rows <= MAX_BATCH_ROWS
    modelled = plan.peak() + plan.persons * per_person
    assert modelled <= budget
    # one more person would break the budget (the plan is the largest chunk that fits)
    assert plan.peak(plan.persons + 1) + (plan.persons + 1) * per_person > budget


def test_plan_grows_with_budget_and_shrinks_with_weeks():
    small, large = plan_chunks("2GB", 1_700), plan_chunks("8GB", 1_700)
    assert large.persons > small.persons
    assert plan_chunks("4GB", 260).persons > plan_chunks("4GB", 1_700).persons
    assert small.peak() > BASE_BYTES


def test_plan_rejects_budget_that_holds_nobody():
    with pytest.raises(InputError, match="raise the budget"):
        plan_chunks(BASE_BYTES + 1024, 1_700, bytes_per_person=10**9)


@settings(max_examples=40, deadline=None)
@given(budget=st.integers(1 << 30, 64 << 30), weeks=st.integers(1, 3_000))
def test_default_threads_fit_an_eighth_of_the_budget(budget, weeks):
    plan = plan_chunks(budget, weeks)
    assert 1 <= plan.threads <= min(available_cores(), MAX_DEFAULT_THREADS)
    assert plan.threads == 1 or plan.threads * THREAD_WORK_BYTES <= (budget - BASE_BYTES) / 8


def test_explicit_threads_take_their_memory_from_the_chunk():
    one, four = plan_chunks("4GB", 1_700, threads=1), plan_chunks("4GB", 1_700, threads=4)
    assert (one.threads, four.threads) == (1, 4)
    assert four.persons < one.persons
    assert four.peak() <= 4 << 30 and one.peak() <= 4 << 30
    with pytest.raises(InputError, match="fewer threads"):
        plan_chunks("1GB", 1_700, threads=64)
    with pytest.raises(InputError, match="threads must be >= 1"):
        plan_chunks("4GB", 1_700, threads=0)
