r"""Odds-ratio ladders, backward elimination and effect modification (one sample for all).

* :func:`or_ladder` fits a sequence of models for one exposure: unadjusted, then adding
  covariate blocks cumulatively (``mode="cumulative"``) or one block at a time
  (``mode="separate"``), on the same complete-case sample, and lays them out as the
  thesis tables: rows = overall p (joint Wald test of the exposure), the reference level
  (OR 1), each other level; columns per model: b, OR (95% CI), p.
* :func:`backward_eliminate` removes, one at a time, the term with the largest joint Wald
  p-value above ``alpha`` (forced terms are never removed) and keeps every step.
* :func:`exposure_or_by` fits exposure x modifier interactions and reports the exposure
  OR at each level of the modifier: :math:`\exp(b_k + b_{k:m})` with the delta-method
  variance :math:`c'Vc`, :math:`c` selecting :math:`b_k` and :math:`b_{k:m}`.

Automated selection is opt-in because it is dangerous: selecting on p-values biases the
kept coefficients away from zero, makes the reported intervals too narrow and the p-values
invalid (they ignore the selection), and the selected set is unstable across samples
(Harrell, *Regression Modeling Strategies*, 2nd ed., 2015, section 4.3). Prefer a
pre-specified adjustment set; use the elimination trace as a sensitivity analysis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
import scipy.stats

from dreamkit.errors import InputError
from dreamkit.estimate.binary.fit import BinaryLink, BinaryResult, TestResult, VcovType
from dreamkit.estimate.binary.frame import Missing, Prepared, fit_prepared, prepare
from dreamkit.estimate.results import check_level

Blocks = Sequence[Sequence[str]] | Mapping[str, Sequence[str]]


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _block_dict(blocks: Blocks) -> dict[str, list[str]]:
    if isinstance(blocks, Mapping):
        return {str(k): list(v) for k, v in blocks.items()}
    return {f"block {i + 1}": list(b) for i, b in enumerate(blocks)}


@dataclass(frozen=True)
class Ladder:
    """A sequence of fitted models for one exposure (see :func:`or_ladder`).

    :attr:`fits` maps model labels to :class:`BinaryResult`; :attr:`adjustment` the
    covariates of each model.
    """

    exposure: str
    levels: tuple[str, ...]
    reference: str
    fits: Mapping[str, BinaryResult]
    adjustment: Mapping[str, tuple[str, ...]]
    level: float
    notes: tuple[str, ...] = ()
    group: str | None = None

    def long(self, level: float | None = None) -> pl.DataFrame:
        """Numeric table: model, row (overall / level), b, std_error, odds_ratio, conf_low,
        conf_high, p_value, n_obs, n_events."""
        lvl = check_level(self.level if level is None else level)
        rows: list[dict[str, Any]] = []
        for label, fit in self.fits.items():
            tidy = fit.tidy(lvl, exponentiate=True)
            raw = fit.tidy(lvl)
            wald = fit.wald_test(self.exposure)
            base = {"model": label, "n_obs": fit.n_obs, "n_events": fit.n_events}
            rows.append(
                {
                    **base,
                    "row": "overall p",
                    "level": None,
                    "b": None,
                    "std_error": None,
                    "odds_ratio": None,
                    "conf_low": None,
                    "conf_high": None,
                    "p_value": wald.p_value,
                }
            )
            rows.append(
                {
                    **base,
                    "row": f"{self.reference} (reference)",
                    "level": self.reference,
                    "b": 0.0,
                    "std_error": None,
                    "odds_ratio": 1.0,
                    "conf_low": None,
                    "conf_high": None,
                    "p_value": None,
                }
            )
            for lev in self.levels:
                if lev == self.reference:
                    continue
                term = f"{self.exposure}[{lev}]"
                r = tidy.filter(pl.col("term") == term).row(0, named=True)
                b = raw.filter(pl.col("term") == term).row(0, named=True)
                rows.append(
                    {
                        **base,
                        "row": lev,
                        "level": lev,
                        "b": b["estimate"],
                        "std_error": b["std_error"],
                        "odds_ratio": r["estimate"],
                        "conf_low": r["conf_low"],
                        "conf_high": r["conf_high"],
                        "p_value": r["p_value"],
                    }
                )
        return pl.DataFrame(rows, infer_schema_length=None)

    def table(
        self,
        level: float | None = None,
        digits: int = 2,
        models: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """The thesis table: rows = overall p, reference level, each level; per model the
        columns ``<model>: b``, ``<model>: OR (95% CI)``, ``<model>: p`` (text).
        ``models``: a subset of the models (default all)."""
        lvl = check_level(self.level if level is None else level)
        long = self.long(lvl)
        pct = f"{100 * lvl:g}%"
        row_labels = list(dict.fromkeys(long["row"].to_list()))
        out: dict[str, list[str]] = {"": row_labels}
        chosen = list(self.fits) if models is None else list(models)
        unknown = [m for m in chosen if m not in self.fits]
        if unknown:
            raise InputError(f"models {unknown} are not in the ladder; it has {list(self.fits)}.")
        for label in chosen:
            sub = {r["row"]: r for r in long.filter(pl.col("model") == label).iter_rows(named=True)}
            bcol, orcol, pcol = [], [], []
            for rl in row_labels:
                r = sub[rl]
                if rl == "overall p":
                    bcol.append("")
                    orcol.append("")
                    pcol.append(_fmt_p(r["p_value"]))
                elif r["std_error"] is None:
                    bcol.append("0")
                    orcol.append("1 (ref)")
                    pcol.append("")
                else:
                    bcol.append(f"{r['b']:.{digits}f}")
                    orcol.append(
                        f"{r['odds_ratio']:.{digits}f} ({r['conf_low']:.{digits}f}-"
                        f"{r['conf_high']:.{digits}f})"
                    )
                    pcol.append(_fmt_p(r["p_value"]))
            out[f"{label}: b"] = bcol
            out[f"{label}: OR ({pct} CI)"] = orcol
            out[f"{label}: p"] = pcol
        return pl.DataFrame(out)

    def footnotes(self) -> list[str]:
        """N per model and its adjustment set."""
        lines = []
        for label, fit in self.fits.items():
            adj = ", ".join(self.adjustment[label]) or "none"
            fe = f"; stratum fixed effects ({fit.fe_name})" if fit.fe_name else ""
            lines.append(
                f"{label}: N = {fit.n_obs} ({fit.n_events} events); adjusted for: {adj}{fe}; "
                f"{fit.vcov_type} standard errors"
                + (f" ({fit.n_clusters} clusters)" if fit.vcov_type == "CRV1" else "")
            )
        return [*lines, *self.notes]

    def to_markdown(self, level: float | None = None, digits: int = 2) -> str:
        """The table as Markdown with the footnotes below it."""
        t = self.table(level, digits)
        head = "| " + " | ".join(t.columns) + " |"
        sep = "| " + " | ".join("---" for _ in t.columns) + " |"
        body = ["| " + " | ".join(str(v) for v in row) + " |" for row in t.iter_rows()]
        title = f"Exposure: {self.exposure}" + (f" ({self.group})" if self.group else "")
        return "\n".join([title, "", head, sep, *body, "", *(f"- {n}" for n in self.footnotes())])

    def lr_test(self, first: str | None = None, last: str | None = None) -> TestResult:
        """Likelihood-ratio test between two models of the ladder (default: the last vs the
        first; they must be nested, i.e. ``mode="cumulative"``)."""
        labels = list(self.fits)
        a = self.fits[first or labels[0]]
        b = self.fits[last or labels[-1]]
        return b.lr_test(a)

    def __repr__(self) -> str:
        return self.to_markdown()


def or_ladder(
    data: Any,
    outcome: str,
    exposure: str,
    blocks: Blocks,
    *,
    mode: Literal["cumulative", "separate"] = "cumulative",
    stratum: str | None = None,
    cluster: str | None = None,
    link: BinaryLink = "logit",
    vcov: VcovType | None = None,
    reference: Mapping[str, Any] | None = None,
    categorical: Sequence[str] = (),
    missing: Missing = "raise",
    by: str | None = None,
    level: float = 0.95,
) -> Ladder | dict[str, Ladder]:
    """Fit the odds-ratio ladder of ``exposure`` on ``outcome`` (module docstring).

    Models: ``"Unadjusted"``, then ``"+ <block>"`` for each block added cumulatively
    (``mode="cumulative"``) or ``"<block>"`` with the exposure and that block only
    (``mode="separate"``). ``blocks`` is a list of column lists or a mapping from block names
    to column lists. All models use one complete-case sample (missing values in any column
    of any block: an error, or dropped and reported with ``missing="drop"``), so their N
    are equal and likelihood-ratio tests between nested rungs are valid.

    ``by``: fit the ladder separately in each group of this column (returns a dict of
    ladders, e.g. current and former programme participants).
    """
    if mode not in ("cumulative", "separate"):
        raise InputError(f"mode={mode!r}; use 'cumulative' or 'separate'.")
    bdict = _block_dict(blocks)
    if not bdict:
        raise InputError("give at least one block of covariates.")
    if by is not None:
        from dreamkit.estimate.binary.frame import to_polars

        df = to_polars(data)
        if by not in df.columns:
            raise InputError(f"by column {by!r} is not in the data.")
        if df[by].null_count():
            raise InputError(
                f"by column {by!r} has {df[by].null_count()} missing values; drop them or "
                "give them a group of their own before fitting the ladders."
            )
        out: dict[str, Ladder] = {}
        for key in df[by].unique(maintain_order=True).sort().to_list():
            sub = df.filter(pl.col(by) == key)
            lad = or_ladder(
                sub,
                outcome,
                exposure,
                bdict,
                mode=mode,
                stratum=stratum,
                cluster=cluster,
                link=link,
                vcov=vcov,
                reference=reference,
                categorical=categorical,
                missing=missing,
                level=level,
            )
            assert isinstance(lad, Ladder)
            out[str(key)] = Ladder(**{**lad.__dict__, "group": f"{by} = {key}"})
        return out
    every = list(dict.fromkeys([exposure, *(c for b in bdict.values() for c in b)]))
    prep = prepare(
        data,
        outcome,
        every,
        stratum=stratum,
        cluster=cluster,
        reference=reference,
        categorical=categorical,
        missing=missing,
    )
    var = prep.variables[exposure]
    if not var.is_factor:
        raise InputError(
            f"exposure {exposure!r} is numeric; the ladder reports levels of a factor. List it "
            "in categorical=[...] (or give it a reference level)."
        )
    models: dict[str, list[str]] = {"Unadjusted": []}
    acc: list[str] = []
    for name, cols in bdict.items():
        if mode == "cumulative":
            acc = list(dict.fromkeys([*acc, *cols]))
            models[f"+ {name}"] = list(acc)
        else:
            models[name] = list(cols)
    fits: dict[str, BinaryResult] = {}
    for label, cov in models.items():
        terms = [exposure, *(c for c in cov if c != exposure)]
        fits[label] = fit_prepared(prep, terms, link=link, vcov=vcov, level=level)
    return Ladder(
        exposure=exposure,
        levels=var.levels,
        reference=var.levels[var.reference],
        fits=fits,
        adjustment={k: tuple(v) for k, v in models.items()},
        level=level,
        notes=prep.notes,
    )


@dataclass(frozen=True)
class Elimination:
    """Backward elimination by Wald p (see :func:`backward_eliminate`).

    :attr:`steps`: one row per step (step, removed term, its joint Wald p, remaining terms);
    :attr:`fits`: the model at every step (step 0 = all candidates); :attr:`final`: the
    selected model.
    """

    steps: pl.DataFrame
    fits: tuple[BinaryResult, ...] = field(repr=False)
    alpha: float = 0.05
    forced: tuple[str, ...] = ()

    @property
    def initial(self) -> BinaryResult:
        return self.fits[0]

    @property
    def final(self) -> BinaryResult:
        return self.fits[-1]

    def lr_test(self) -> TestResult:
        """Likelihood-ratio test of the final (selected) model against the initial one."""
        return self.initial.lr_test(self.final)

    def __repr__(self) -> str:
        return f"Elimination(alpha={self.alpha}, forced={list(self.forced)})\n{self.steps}"


def backward_eliminate(
    data: Any,
    outcome: str,
    candidates: Sequence[str],
    *,
    alpha: float = 0.05,
    force: Sequence[str] = (),
    stratum: str | None = None,
    cluster: str | None = None,
    link: BinaryLink = "logit",
    vcov: VcovType | None = None,
    reference: Mapping[str, Any] | None = None,
    categorical: Sequence[str] = (),
    missing: Missing = "raise",
    level: float = 0.95,
) -> Elimination:
    """Backward elimination by joint Wald p-value, with the full trace (opt-in; see the
    module docstring for why automated selection is dangerous).

    Start from all ``candidates`` (exposure included unless you ``force`` it), fit, and
    remove the term (a whole factor at a time) with the largest joint Wald p-value if it
    exceeds ``alpha``; repeat until every remaining non-forced term has ``p <= alpha``.
    Every step is refitted on the same complete-case sample.
    """
    cand = list(dict.fromkeys(candidates))
    forced = list(dict.fromkeys(force))
    missing_forced = [f for f in forced if f not in cand]
    if missing_forced:
        raise InputError(f"forced terms {missing_forced} are not among the candidates.")
    if not 0 < alpha < 1:
        raise InputError(f"alpha={alpha!r} must lie in (0, 1).")
    prep: Prepared = prepare(
        data,
        outcome,
        cand,
        stratum=stratum,
        cluster=cluster,
        reference=reference,
        categorical=categorical,
        missing=missing,
    )
    terms = list(cand)
    fits = [fit_prepared(prep, terms, link=link, vcov=vcov, level=level)]
    steps: list[dict[str, Any]] = [
        {"step": 0, "removed": None, "p_value": None, "df": None, "remaining": ", ".join(terms)}
    ]
    while True:
        free = [t for t in terms if t not in forced]
        if not free:
            break
        pvals = {t: fits[-1].wald_test(t) for t in free}
        worst = max(free, key=lambda t: pvals[t].p_value)
        if pvals[worst].p_value <= alpha:
            break
        terms.remove(worst)
        steps.append(
            {
                "step": len(steps),
                "removed": worst,
                "p_value": pvals[worst].p_value,
                "df": pvals[worst].df,
                "remaining": ", ".join(terms),
            }
        )
        # with every term removed the last model has the intercept (and strata) only
        fits.append(fit_prepared(prep, terms, link=link, vcov=vcov, level=level))
        if not terms:
            break
    schema = {
        "step": pl.Int64,
        "removed": pl.String,
        "p_value": pl.Float64,
        "df": pl.Int64,
        "remaining": pl.String,
    }
    return Elimination(pl.DataFrame(steps, schema=schema), tuple(fits), alpha, tuple(forced))


@dataclass(frozen=True)
class Modification:
    """Exposure odds ratios at each level of a modifier (see :func:`exposure_or_by`)."""

    table: pl.DataFrame
    interaction: TestResult
    fit: BinaryResult = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"{self.table}\ninteraction: Wald chi2 = {self.interaction.statistic:.3f}, "
            f"df = {self.interaction.df}, p = {self.interaction.p_value:.4g}"
        )


def exposure_or_by(
    data: Any,
    outcome: str,
    exposure: str,
    modifier: str,
    covariates: Sequence[str] = (),
    *,
    stratum: str | None = None,
    cluster: str | None = None,
    link: BinaryLink = "logit",
    vcov: VcovType | None = None,
    reference: Mapping[str, Any] | None = None,
    categorical: Sequence[str] = (),
    missing: Missing = "raise",
    level: float = 0.95,
) -> Modification:
    """Exposure x modifier interaction, reported as the exposure OR at each modifier level.

    Model: ``F(a + b_k E_k + d_m M_m + b_{k:m} E_k M_m + x'c)``. At modifier level m the log
    OR of exposure level k vs the reference is ``b_k + b_{k:m}`` (``b_k`` at the modifier's
    reference level), with delta-method SE ``sqrt(c'Vc)``; ``interaction`` is the joint Wald
    test of all ``b_{k:m}``.
    """
    lvl = check_level(level)
    terms = list(dict.fromkeys([exposure, modifier, *covariates]))
    prep = prepare(
        data,
        outcome,
        terms,
        stratum=stratum,
        cluster=cluster,
        reference=reference,
        categorical=[*categorical, modifier],
        missing=missing,
    )
    ve, vm = prep.variables[exposure], prep.variables[modifier]
    if not ve.is_factor:
        raise InputError(f"exposure {exposure!r} must be a factor (text or categorical=[...]).")
    fit = fit_prepared(
        prep, terms, link=link, vcov=vcov, level=lvl, interactions=[(exposure, modifier)]
    )
    q = scipy.stats.norm.ppf(0.5 + lvl / 2)
    rows = []
    for m_idx, m_lev in enumerate(vm.levels):
        for name in ve.column_names:
            c = np.zeros(fit.n_params)
            c[fit.terms.index(name)] = 1.0
            if m_idx != vm.reference:
                c[fit.terms.index(f"{name}:{modifier}[{m_lev}]")] = 1.0
            b = float(c @ fit.params)
            se = float(np.sqrt(c @ fit.cov @ c))
            z = b / se
            rows.append(
                {
                    "modifier_level": m_lev,
                    "term": name,
                    "estimate": b,
                    "std_error": se,
                    "odds_ratio": float(np.exp(b)),
                    "conf_low": float(np.exp(b - q * se)),
                    "conf_high": float(np.exp(b + q * se)),
                    "p_value": float(2 * scipy.stats.norm.sf(abs(z))),
                }
            )
    return Modification(pl.DataFrame(rows), fit.wald_test(f"{exposure}:{modifier}"), fit)


def group_table(
    ladders: Mapping[str, Ladder], model: str, level: float | None = None, digits: int = 2
) -> pl.DataFrame:
    """One model of ladders fitted by group (``or_ladder(..., by=...)``) side by side: the
    thesis layout with columns per group (``<group>: b``, ``<group>: OR (95% CI)``,
    ``<group>: p``) and the same rows."""
    parts: list[pl.DataFrame] = []
    for group, lad in ladders.items():
        t = lad.table(level, digits, models=[model])
        t = t.rename({c: c.replace(f"{model}:", f"{group}:", 1) for c in t.columns[1:]})
        parts.append(t if not parts else t.drop(""))
    if not parts:
        raise InputError("no ladders given.")
    rows = {tuple(p[""].to_list()) for p in parts[:1]}
    if any(
        tuple(lad.table(level, digits, models=[model])[""].to_list()) not in rows
        for lad in ladders.values()
    ):
        raise InputError("the groups have different exposure levels; tabulate them separately.")
    return pl.concat(parts, how="horizontal")
