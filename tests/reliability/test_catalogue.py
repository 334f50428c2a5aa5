"""Every catalogued bad input raises its typed error, states the fix and never shows a person id."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue import CATALOGUE, SECRET, SECRET_TEXT, Bad, markdown

from dreamkit.errors import DreamkitError

DOCS = Path(__file__).parents[2] / "docs" / "bad-inputs.md"


def test_catalogue_is_large_and_names_are_unique() -> None:
    assert len(CATALOGUE) >= 60
    assert len({b.name for b in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("bad", CATALOGUE, ids=[b.name for b in CATALOGUE])
def test_bad_input_raises_its_typed_error(bad: Bad, tmp_path: Path) -> None:
    with pytest.raises(DreamkitError) as info:
        bad.call(tmp_path)
    err = info.value
    message = str(err)
    assert type(err) is bad.error, f"{bad.name}: {type(err).__name__}: {message}"
    assert bad.fix.lower() in message.lower(), message
    for secret in (str(SECRET), SECRET_TEXT, SECRET_TEXT.lstrip("0")):
        assert secret not in message
    assert err.__cause__ is None  # no chained library message that could quote a cell


def test_docs_page_lists_the_whole_catalogue() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert markdown() in text, "regenerate the table: python tests/reliability/catalogue.py"
