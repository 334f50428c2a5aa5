r"""Formulas for every estimator, parsed by formulaic, fixed effects after ``|`` as in fixest.

Grammar (formulaic's, with two documented extensions on the left-hand side)::

    outcomes ~ regressors [| fixed effects]

* right-hand side: formulaic terms -- columns, ``C(x)`` (categorical; ``C(x,
  contr.treatment("ref"))`` picks the reference level), ``a:b`` (product / interaction),
  ``a*b`` (``a + b + a:b``), functions of columns (``np.log(x)``). The intercept is handled by
  the estimator (absorbed by the fixed effects or added), so it is never a term of its own.
* fixed effects: column names after ``|`` separated by ``+`` (``| municipality``).
* left-hand side: one outcome, several joined by ``+`` (``y1 + y2``), or an outcome family as a
  glob pattern (``sick_share_*`` = every column matching it, ordered by the number it ends
  with); duration models take ``Surv(duration, event)``.

The materialisation of the design matrix follows formulaic exactly; when every term is a plain
numeric column or a product of such columns, the matrix is built directly from the columns
(identical values and names; tests check it against formulaic) because formulaic's general
path costs about 7-15 ms per call.

Errors name the term and the fix (:class:`FormulaError`), never formulaic's traceback.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from dreamkit.errors import ColumnNotFoundError, InputError

_TRAILING_NUMBER = re.compile(r"(\d+)$")


class FormulaError(InputError):
    """A formula that cannot be parsed or evaluated on the data; the message names the term."""


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into its parts (module docstring)."""

    formula: str
    lhs: str
    rhs: Any  # formulaic Formula of the right-hand side (terms)
    fixed_effects: tuple[str, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        """Right-hand-side term labels, intercept excluded."""
        return tuple(str(t) for t in self.rhs if str(t) != "1")

    @property
    def variables(self) -> tuple[str, ...]:
        """Data columns the right-hand side needs (sorted)."""
        return tuple(sorted(str(v) for v in self.rhs.required_variables))


@dataclass(frozen=True)
class Design:
    """A materialised right-hand side: X (n, p) without intercept, its column names, and the
    columns of each term (for joint tests of a factor)."""

    x: NDArray[np.float64]
    names: tuple[str, ...]
    term_columns: Mapping[str, tuple[int, ...]]
    fast: bool

    def without(self, terms: Sequence[str]) -> Design:
        """The design without the columns of ``terms`` (the other terms keep their coding)."""
        drop = set(terms)
        keep = [j for t, cols in self.term_columns.items() if t not in drop for j in cols]
        keep.sort()
        index = {j: k for k, j in enumerate(keep)}
        groups = {
            t: tuple(index[j] for j in cols)
            for t, cols in self.term_columns.items()
            if t not in drop
        }
        return Design(self.x[:, keep], tuple(self.names[j] for j in keep), groups, self.fast)


@lru_cache(maxsize=256)
def _parse_cached(formula: str) -> ParsedFormula:
    from formulaic import Formula
    from formulaic.errors import FormulaicError

    if formula.count("~") != 1:
        raise FormulaError(
            f"formula {formula!r} needs exactly one '~' between outcomes and regressors, "
            "e.g. 'y ~ treated + age | municipality'."
        )
    lhs, right = (part.strip() for part in formula.split("~"))
    if not lhs:
        raise FormulaError(f"formula {formula!r} has no outcome left of '~'.")
    try:
        parsed = Formula(right)
    except FormulaicError as err:
        raise FormulaError(
            f"cannot parse the right-hand side {right!r}: {_first_line(err)}"
        ) from None
    parts = list(parsed) if _is_structured(parsed) else [parsed]
    if len(parts) > 2:
        raise FormulaError(
            f"formula {formula!r} has {len(parts) - 1} '|' parts; use one: "
            "'y ~ regressors | fixed effects'."
        )
    fixed: tuple[str, ...] = ()
    if len(parts) == 2:
        fe_terms = [t for t in parts[1] if str(t) != "1"]
        for t in fe_terms:
            factors = list(t.factors)
            if len(factors) != 1 or factors[0].eval_method.value != "lookup":
                raise FormulaError(
                    f"fixed effect {str(t)!r} must be a plain column name (interacted fixed "
                    "effects are not supported; build the combined column first)."
                )
        fixed = tuple(str(t) for t in fe_terms)
    rhs = parts[0]
    overlap = sorted(set(fixed) & {str(v) for v in rhs.required_variables})
    if overlap:
        raise FormulaError(
            f"{overlap[0]!r} is both a fixed effect and a regressor; a regressor constant "
            f"within the levels of {overlap[0]!r} is not identified. Remove one of them."
        )
    return ParsedFormula(formula, lhs, rhs, fixed)


def _is_structured(obj: Any) -> bool:
    from formulaic.formula import StructuredFormula

    return isinstance(obj, StructuredFormula)


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def parse(formula: str) -> ParsedFormula:
    """Parse ``formula`` (cached: the same string is parsed once per process)."""
    if not isinstance(formula, str):
        raise FormulaError(f"a formula must be a string like 'y ~ x | fe'; got {type(formula)}.")
    return _parse_cached(" ".join(formula.split()))


def outcome_columns(lhs: str, columns: Sequence[str]) -> tuple[str, ...]:
    """The outcome columns named by the left-hand side: names joined by '+', or one glob
    pattern (``sick_share_*``) expanded to matching columns ordered by trailing number."""
    names = [p.strip() for p in lhs.split("+")]
    out: list[str] = []
    for name in names:
        if not name:
            raise FormulaError(f"left-hand side {lhs!r} has an empty outcome between '+'.")
        if any(ch in name for ch in "*?["):
            hits = [c for c in columns if fnmatch.fnmatchcase(c, name)]
            if not hits:
                raise FormulaError(
                    f"outcome pattern {name!r} matches no column; outcome families look like "
                    "'sick_share_*' (every column starting with 'sick_share_')."
                )
            hits.sort(key=_family_key)
            out.extend(hits)
        else:
            if not name.isidentifier():
                raise FormulaError(
                    f"outcome {name!r} must be a column name (transform it into a new column "
                    "first)."
                )
            if name not in columns:
                raise ColumnNotFoundError(
                    f"outcome column {name!r} is not in the data; check the name or the "
                    "pattern (e.g. 'emp_share_*')."
                )
            out.append(name)
    return tuple(dict.fromkeys(out))


def _family_key(name: str) -> tuple[int, str]:
    m = _TRAILING_NUMBER.search(name)
    return (int(m.group(1)) if m else -1, name)


def surv_columns(lhs: str) -> tuple[str, str]:
    """``Surv(duration, event)`` -> the two column names (Python's own parser reads it)."""
    try:
        node = ast.parse(lhs, mode="eval").body
    except SyntaxError:
        node = None
    if (
        not isinstance(node, ast.Call)
        or not isinstance(node.func, ast.Name)
        or node.func.id != "Surv"
        or len(node.args) != 2
        or not all(isinstance(a, ast.Name) for a in node.args)
    ):
        raise FormulaError(
            f"a duration model's left-hand side must be 'Surv(duration, event)' with two column "
            f"names; got {lhs!r}."
        )
    return node.args[0].id, node.args[1].id  # type: ignore[attr-defined]


def require(data: pl.DataFrame, columns: Sequence[str], role: str) -> None:
    """Every column present, else :class:`ColumnNotFoundError` naming it."""
    for c in columns:
        if c not in data.columns:
            raise ColumnNotFoundError(
                f"{role} {c!r} named in the formula is not a column of the data; check the "
                "spelling or create the column first."
            )


def check_variables(parsed: ParsedFormula, data: pl.DataFrame) -> None:
    """Every name the right-hand side reads is a column; an unknown name used as a function
    gets its own message."""
    for name in parsed.variables:
        if name in data.columns:
            continue
        if re.search(rf"\b{re.escape(name)}\s*\(", parsed.formula):
            raise FormulaError(
                f"unknown function {name!r} in {parsed.formula!r}; use C(x) for categories, "
                "numpy functions as np.log(x), or compute the column before fitting."
            )
        raise ColumnNotFoundError(
            f"variable {name!r} named in the formula is not a column of the data; check the "
            "spelling or create the column first."
        )


def design(parsed: ParsedFormula, data: pl.DataFrame) -> Design:
    """Materialise the right-hand side on ``data`` (no missing values allowed: the
    estimators' own missing-value rules run before this)."""
    check_variables(parsed, data)
    fast = _fast_design(parsed, data)
    if fast is not None:
        return fast
    return _formulaic_design(parsed, data)


def _fast_design(parsed: ParsedFormula, data: pl.DataFrame) -> Design | None:
    """Plain numeric columns and their products, built directly (module docstring)."""
    cols: list[NDArray[np.float64]] = []
    names: list[str] = []
    groups: dict[str, tuple[int, ...]] = {}
    for term in parsed.rhs:
        label = str(term)
        if label == "1":
            continue
        factors = list(term.factors)
        if any(f.eval_method.value != "lookup" for f in factors):
            return None
        series = [data[str(f.expr)] for f in factors]
        if any(not (s.dtype.is_numeric() or s.dtype == pl.Boolean) for s in series):
            return None
        if any(s.null_count() for s in series):
            return None
        value = series[0].cast(pl.Float64).to_numpy()
        for s in series[1:]:
            value = value * s.cast(pl.Float64).to_numpy()
        groups[label] = (len(cols),)
        cols.append(np.asarray(value, dtype=np.float64))
        names.append(label)
    x = np.column_stack(cols) if cols else np.zeros((data.height, 0))
    return Design(x, tuple(names), groups, True)


def _formulaic_design(parsed: ParsedFormula, data: pl.DataFrame) -> Design:
    from formulaic import model_matrix
    from formulaic.errors import FormulaicError

    frame = data.select(list(parsed.variables)).to_pandas()
    try:
        mm = model_matrix(parsed.rhs, frame, na_action="raise", ensure_full_rank=True)
    except FormulaicError as err:
        raise FormulaError(
            f"cannot evaluate the formula {parsed.formula!r}: {_first_line(err)} Use column "
            "names of the data, C(x) for categories and numpy functions as np.log(x)."
        ) from None
    except (ValueError, TypeError, KeyError) as err:
        raise FormulaError(
            f"cannot evaluate the formula {parsed.formula!r}: {_first_line(err)}"
        ) from None
    spec = mm.model_spec
    names = list(spec.column_names)
    x = np.asarray(mm, dtype=np.float64)
    keep = [j for j, n in enumerate(names) if n != "Intercept"]
    index = {j: k for k, j in enumerate(keep)}
    groups: dict[str, tuple[int, ...]] = {}
    for term, sl in spec.term_slices.items():
        if str(term) == "1":
            continue
        groups[str(term)] = tuple(index[j] for j in range(sl.start, sl.stop) if j in index)
    return Design(x[:, keep], tuple(names[j] for j in keep), groups, False)
