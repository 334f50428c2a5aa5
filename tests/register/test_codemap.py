"""Code map parsing, its errors, and the vectorised code -> state mapping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dreamkit.errors import CodeMapError, InputError, UnknownCodeError
from dreamkit.register import CodeMap

USER_MAP = """
name = "my-map"
[no_code]
employed = "working"
not_employed = "idle"
[states.sick]
label = "Sickness benefit"
codes = [890, 891]
[states.unemployed]
ranges = [[111, 124], [211, 212]]
[sets]
sickness = ["sick"]
off_work = ["sick", "unemployed", "idle"]
"""


def test_user_map_parses_into_ordered_states() -> None:
    cm = CodeMap.from_toml_text(USER_MAP)
    assert cm.name == "my-map"
    assert cm.states == ("idle", "working", "sick", "unemployed", "unknown")
    assert cm.codes_of("unemployed") == (*range(111, 125), 211, 212)
    assert cm.mask("off_work").tolist() == [True, False, True, True, False]
    assert cm.employed_id == 1 and cm.not_employed_id == 0 and cm.unknown_id == 4


def test_user_map_from_file(tmp_path) -> None:
    path = tmp_path / "map.toml"
    path.write_text(USER_MAP, encoding="utf-8")
    assert CodeMap.from_toml(path).states == CodeMap.from_toml_text(USER_MAP).states
    with pytest.raises(CodeMapError, match="does not exist"):
        CodeMap.from_toml(tmp_path / "absent.toml")


def test_default_map_has_disjoint_codes_and_the_study_sets() -> None:
    cm = CodeMap.default()
    codes = [c for s in cm.states for c in cm.codes_of(s)]
    assert len(codes) == len(set(codes))
    for name in ("employment", "sickness", "sickness_duration", "activation_guidance"):
        assert cm.mask(name).any()
    assert cm.members("sickness_duration") < cm.members("sickness")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[states.a]\ncodes = [1, 2]\n[states.b]\nranges = [[2, 5]]", "mapped to both"),
        ("[states.a]\ncodes = [1]\n[sets]\ns = ['a', 'nope']", "unknown state"),
        ("[states.a]\nranges = [[5, 1]]", "first <= last"),
        ("[states.a]\nranges = [[1, 2, 3]]", "first <= last"),
        ("[states.a]\nranges = [[-1, 2]]", "non-negative"),
        ("[states.a]\ncodes = ['890']", "non-negative integers"),
        ("[states.a]\ncodes = [1]\ncolour = 'red'", "unknown key"),
        ("title = 'x'\n[states.a]\ncodes = [1]", "unknown top-level key"),
        ("[states.a]\nlabel = 'no codes'", "no codes or ranges"),
        ("[states.unknown]\ncodes = [1]", "reserved"),
        ("name = 'x'", "non-empty"),
        ("[states.a\ncodes = [1]", "invalid TOML"),
    ],
)
def test_code_map_errors(text: str, match: str) -> None:
    with pytest.raises(CodeMapError, match=match):
        CodeMap.from_toml_text(text)


def test_unknown_state_or_set_names_are_errors() -> None:
    cm = CodeMap.from_toml_text(USER_MAP)
    with pytest.raises(CodeMapError, match="not in code map"):
        cm.state_id("nope")
    with pytest.raises(CodeMapError, match="neither a set nor a state"):
        cm.mask("nope")


def _reference(
    cm: CodeMap, codes: np.ndarray, employed: np.ndarray | None, missing: int = -1
) -> np.ndarray:
    owner = {c: cm.state_id(s) for s in cm.states for c in cm.codes_of(s)}
    out = np.empty(codes.shape, dtype=np.uint8)
    for idx, code in np.ndenumerate(codes):
        if code == missing:
            flag = employed is not None and bool(employed[idx])
            out[idx] = cm.employed_id if flag else cm.not_employed_id
        else:
            out[idx] = owner.get(int(code), cm.unknown_id)
    return out


codes_values = st.sampled_from([-1, -7, 0, 1, 111, 124, 125, 211, 890, 891, 70000])


@given(
    codes=hnp.arrays(
        st.sampled_from([np.int16, np.int32, np.int64]),
        hnp.array_shapes(max_dims=2),
        elements=st.integers(-1, 900),
    ),
    data=st.data(),
)
def test_to_states_matches_reference(codes: np.ndarray, data: st.DataObject) -> None:
    cm = CodeMap.from_toml_text(USER_MAP)
    employed = data.draw(hnp.arrays(np.bool_, codes.shape))
    for flags in (employed, None):
        states, n_unknown = cm.to_states(codes, flags, on_unknown="unknown")
        expected = _reference(cm, codes, flags)
        assert states.dtype == np.uint8
        np.testing.assert_array_equal(states, expected)
        assert n_unknown == int((expected == cm.unknown_id).sum())


@given(hnp.arrays(np.int64, st.integers(1, 30), elements=codes_values))
def test_to_states_out_of_table_codes(codes: np.ndarray) -> None:
    cm = CodeMap.from_toml_text(USER_MAP)
    states, n_unknown = cm.to_states(codes, on_unknown="unknown")
    np.testing.assert_array_equal(states, _reference(cm, codes, None))
    if n_unknown:
        with pytest.raises(UnknownCodeError, match=f"{n_unknown} cell"):
            cm.to_states(codes)


@given(
    codes=hnp.arrays(np.int32, hnp.array_shapes(max_dims=2, max_side=40), elements=codes_values),
    missing=st.sampled_from([-1, -7, 0, 124, 890, 5000]),
    threads=st.integers(1, 3),
    data=st.data(),
)
def test_to_states_any_missing_code_and_threads(
    codes: np.ndarray, missing: int, threads: int, data: st.DataObject
) -> None:
    """Any missing code (negative, a mapped code, beyond the table) and any thread count."""
    cm = CodeMap.from_toml_text(USER_MAP)
    employed = data.draw(hnp.arrays(np.bool_, codes.shape))
    states, n_unknown = cm.to_states(
        codes, employed, missing_code=missing, on_unknown="unknown", threads=threads
    )
    expected = _reference(cm, codes, employed, missing)
    np.testing.assert_array_equal(states, expected)
    assert n_unknown == int((expected == cm.unknown_id).sum())


def test_to_states_blocks_and_threads_give_one_result() -> None:
    """Arrays spanning several look-up blocks map identically on one and on three threads."""
    cm = CodeMap.from_toml_text(USER_MAP)
    rng = np.random.default_rng(3)
    values = np.array([-1, 0, 111, 124, 211, 890, 891, 70000])
    codes = rng.choice(values, size=(3000, 900)).astype(np.int32)
    employed = rng.random(codes.shape) < 0.5
    one, n_one = cm.to_states(codes, employed, on_unknown="unknown", threads=1)
    three, n_three = cm.to_states(codes, employed, on_unknown="unknown", threads=3)
    np.testing.assert_array_equal(one, three)
    assert n_one == n_three == int((codes == 0).sum() + (codes == 70000).sum())
    sample = (slice(0, 3000, 97), slice(None))
    np.testing.assert_array_equal(one[sample], _reference(cm, codes[sample], employed[sample]))


def test_to_states_rejects_mismatched_flags_and_far_missing_codes() -> None:
    cm = CodeMap.from_toml_text(USER_MAP)
    codes = np.array([[890, -1]])
    with pytest.raises(InputError, match="one flag per code cell"):
        cm.to_states(codes, np.array([True]))
    with pytest.raises(InputError, match="recode weeks without a transfer to -1"):
        cm.to_states(codes, missing_code=-(10**9))
    with pytest.raises(InputError, match="threads must be >= 1"):
        cm.to_states(codes, threads=0)
