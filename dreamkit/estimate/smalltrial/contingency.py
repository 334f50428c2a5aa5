r"""Tests on 2 x k tables for small trials: Pearson chi-square (with and without Yates'
correction), Fisher's exact, McNemar for pairs, Cochran-Mantel-Haenszel and the stratified exact
test. Each returns a :class:`TestResult` that says which variant it is.

**Pearson.** For the 2 x k table :math:`O` (rows: arms, columns: outcome categories) with
expected counts :math:`E_{rj} = O_{r\cdot} O_{\cdot j} / N`,

.. math:: X^2 = \sum_{r,j} \frac{(O_{rj} - E_{rj})^2}{E_{rj}}, \qquad
          X^2_{\text{Yates}} = \sum_{r,j} \frac{(\max(0, |O_{rj} - E_{rj}| - \tfrac12))^2}{E_{rj}}

(Yates only for 2 x 2, as ``scipy.stats.chi2_contingency(correction=True)``), referred to
:math:`\chi^2_{k-1}`. Columns that are empty in both arms carry no information and are dropped
(counted in the note).

**Fisher.** The exact conditional test given both margins: under independence the first row
:math:`x = (x_1..x_k)` has the multivariate hypergeometric probability
:math:`P(x) = \prod_j \binom{c_j}{x_j} / \binom{N}{r_1}`; the two-sided p-value sums
:math:`P(x)` over all tables with :math:`P(x) \le P(x_\text{obs})(1 + 10^{-7})` (the rule of
R's ``fisher.test`` and scipy). 2 x 2 tables use ``scipy.stats.fisher_exact``; 2 x k tables are
enumerated (all first rows with the given margins; an error above ``max_tables``); their
statistic is :math:`P(x_\text{obs})`, as in scipy's r x c form.

**McNemar.** For pairs (one person per arm) with :math:`b` pairs where only the treated person
has the event and :math:`c` where only the control person has it: exact
:math:`p = \min(1, 2 P(B \le \min(b, c)))` with :math:`B \sim \text{Bin}(b + c, 1/2)`;
asymptotic :math:`(b - c)^2 / (b + c)` and with correction
:math:`(\max(0, |b - c| - 1))^2 / (b + c)` on :math:`\chi^2_1`.

**Cochran-Mantel-Haenszel.** Over strata :math:`s` with 2 x 2 tables (cell :math:`a_s` =
treated with event), :math:`E a_s = n_{1s} m_{1s} / N_s`,
:math:`V a_s = n_{1s} n_{0s} m_{1s} m_{0s} / (N_s^2 (N_s - 1))` and
:math:`\text{CMH} = (|\sum_s (a_s - E a_s)| - c)^2 / \sum_s V a_s`, :math:`c \in \{0, 1/2\}`,
on :math:`\chi^2_1` (as statsmodels' ``StratifiedTable.test_null_odds``). Strata with fewer
than two persons carry no information and are dropped.

**Stratified exact test.** Given every stratum's margins, :math:`S = \sum_s a_s` has the
distribution of a sum of independent hypergeometrics (their convolution); the two-sided
p-value sums the probabilities :math:`\le P(S_\text{obs})(1 + 10^{-7})` (R's
``mantelhaen.test(exact=TRUE)``). With one stratum it is Fisher's exact test.

**No information.** A table in which the outcome does not vary (every person in one category,
or, for McNemar, no discordant pair) cannot reject: the statistic is 0 and p = 1, with a note.
Zero cells otherwise are no problem for the exact tests, which are the answer under separation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.stats

from dreamkit.errors import EstimationError, InputError

REL_ERR = 1.0 + 1e-7
MAX_TABLES = 5_000_000


@dataclass(frozen=True)
class TestResult:
    """One test: its label, statistic, degrees of freedom (None for exact tests), p-value,
    method (``"asymptotic"``, ``"exact"``, ``"monte carlo"``), the units used and a note."""

    __test__ = False  # not a pytest class

    test: str
    statistic: float
    df: float | None
    p_value: float
    method: str
    n_used: int
    note: str = ""


def as_table(table: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """A 2 x k table of non-negative integer counts (rows: arms)."""
    t = np.asarray(table)
    if t.ndim != 2 or t.shape[0] != 2 or t.shape[1] < 2:
        raise InputError(f"need a 2 x k table (k >= 2) of counts, got shape {t.shape}.")
    if not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(t != np.round(t)):
        raise InputError("table cells must be non-negative integer counts.")
    t = t.astype(np.int64)
    if np.any(t.sum(axis=1) == 0):
        raise InputError("one arm of the table has no persons; both arms need persons.")
    return t


def crosstab(
    treated: npt.ArrayLike, outcome: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], list[object]]:
    """2 x k counts (row 0: control, row 1: treated) and the outcome categories (sorted)."""
    arm = np.asarray(treated)
    y = np.asarray(outcome)
    if arm.shape != y.shape or arm.ndim != 1:
        raise InputError("treated and outcome must be 1-D arrays of the same length.")
    if not np.isin(arm, (0, 1)).all():
        raise InputError("treated must hold 0 (control) and 1 (treated) only.")
    cats, codes = np.unique(y, return_inverse=True)
    table = np.zeros((2, max(cats.size, 2)), dtype=np.int64)
    np.add.at(table, (arm.astype(np.int64), codes), 1)
    return table, cats.tolist()


def _informative(t: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
    keep = t.sum(axis=0) > 0
    return t[:, keep], int((~keep).sum())


def pearson(table: npt.ArrayLike, *, correction: bool = False) -> TestResult:
    """Pearson's chi-square test of a 2 x k table (Yates' correction only for 2 x 2)."""
    t, dropped = _informative(as_table(table))
    label = "chi-square (Yates)" if correction else "chi-square"
    n = int(t.sum())
    note = f"{dropped} empty outcome column(s) dropped" if dropped else ""
    if t.shape[1] < 2:
        return TestResult(label, 0.0, 0.0, 1.0, "asymptotic", n, _join(note, "no variation"))
    if correction and t.shape[1] != 2:
        raise InputError("Yates' continuity correction applies to 2 x 2 tables only.")
    expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / n
    dev = np.abs(t - expected)
    if correction:
        dev = np.maximum(dev - 0.5, 0.0)
    stat = float((dev**2 / expected).sum())
    df = t.shape[1] - 1
    if (expected < 5).any():
        note = _join(note, "expected count < 5 in a cell: read the exact test")
    return TestResult(
        label, stat, float(df), float(scipy.stats.chi2.sf(stat, df)), "asymptotic", n, note
    )


def fisher(table: npt.ArrayLike, *, max_tables: int = MAX_TABLES) -> TestResult:
    """Fisher's exact test (two-sided, exact conditional p) of a 2 x k table."""
    t, dropped = _informative(as_table(table))
    n = int(t.sum())
    note = f"{dropped} empty outcome column(s) dropped" if dropped else ""
    if t.shape[1] < 2:
        return TestResult("Fisher exact", 0.0, None, 1.0, "exact", n, _join(note, "no variation"))
    if t.shape[1] == 2:
        res = scipy.stats.fisher_exact(t, alternative="two-sided")
        return TestResult(
            "Fisher exact", float(res.statistic), None, float(res.pvalue), "exact", n, note
        )
    p, p_obs = _fisher_2xk(t, max_tables)
    return TestResult("Fisher exact", p_obs, None, p, "exact", n, note)


def _log_comb(n: npt.ArrayLike, k: npt.ArrayLike) -> npt.NDArray[np.float64]:
    from scipy.special import gammaln

    n_, k_ = np.asarray(n, dtype=np.float64), np.asarray(k, dtype=np.float64)
    return np.asarray(gammaln(n_ + 1) - gammaln(k_ + 1) - gammaln(n_ - k_ + 1))


def fisher_2xk_pvalue(table: npt.ArrayLike, *, max_tables: int = MAX_TABLES) -> float:
    """Two-sided exact conditional p of a 2 x k table by enumerating every first row with the
    table's margins (module docstring)."""
    return _fisher_2xk(as_table(table), max_tables)[0]


def _fisher_2xk(t: npt.NDArray[np.int64], max_tables: int) -> tuple[float, float]:
    """(two-sided p, probability of the observed table) of a 2 x k table."""
    cols = t.sum(axis=0)
    r1 = int(t[0].sum())
    obs = float(_log_comb(cols, t[0]).sum())
    # partial sums and log-probabilities of all feasible prefixes x_1..x_j
    sums = np.zeros(1, dtype=np.int64)
    logp = np.zeros(1)
    remaining = int(cols.sum())
    for c in cols.tolist():
        remaining -= c
        x = np.arange(c + 1)
        new_sums = (sums[:, None] + x[None, :]).ravel()
        new_logp = (logp[:, None] + _log_comb(c, x)[None, :]).ravel()
        ok = (new_sums <= r1) & (new_sums + remaining >= r1)
        sums, logp = new_sums[ok], new_logp[ok]
        if sums.size > max_tables:
            raise EstimationError(
                f"the exact 2 x {t.shape[1]} test needs more than {max_tables:,} tables; "
                "merge outcome categories or use randomisation inference (Monte Carlo)."
            )
    total = float(_log_comb(int(cols.sum()), r1))
    prob = np.exp(logp - total)
    p_obs = math.exp(obs - total)
    return float(min(1.0, prob[prob <= p_obs * REL_ERR].sum())), p_obs


def mcnemar(
    treated_event: npt.ArrayLike, control_event: npt.ArrayLike, *, method: str = "exact"
) -> TestResult:
    """McNemar's test for pairs: ``method`` ``"exact"``, ``"asymptotic"`` or
    ``"corrected"`` (continuity correction); arrays hold the two members' 0/1 outcomes."""
    y1 = np.asarray(treated_event)
    y0 = np.asarray(control_event)
    if y1.shape != y0.shape or y1.ndim != 1:
        raise InputError("McNemar needs two 1-D arrays of equal length (one entry per pair).")
    if not (np.isin(y1, (0, 1)).all() and np.isin(y0, (0, 1)).all()):
        raise InputError("McNemar needs 0/1 outcomes.")
    if y1.size == 0:
        raise InputError("McNemar needs at least one complete pair.")
    b = int(((y1 == 1) & (y0 == 0)).sum())
    c = int(((y1 == 0) & (y0 == 1)).sum())
    d = b + c
    note = "" if d else "no discordant pair: no information"
    if method == "exact":
        p = 1.0 if d == 0 else min(1.0, 2.0 * float(scipy.stats.binom.cdf(min(b, c), d, 0.5)))
        return TestResult("McNemar exact", float(min(b, c)), None, p, "exact", y1.size, note)
    if method not in ("asymptotic", "corrected"):
        raise InputError(f"method must be 'exact', 'asymptotic' or 'corrected', got {method!r}.")
    if d == 0:
        stat = 0.0
    elif method == "corrected":
        stat = max(0.0, abs(b - c) - 1.0) ** 2 / d
    else:
        stat = (b - c) ** 2 / d
    label = "McNemar (corrected)" if method == "corrected" else "McNemar"
    return TestResult(
        label, stat, 1.0, float(scipy.stats.chi2.sf(stat, 1)), "asymptotic", y1.size, note
    )


def _strata_tables(
    treated: npt.ArrayLike, event: npt.ArrayLike, stratum: npt.ArrayLike
) -> npt.NDArray[np.int64]:
    arm = np.asarray(treated)
    y = np.asarray(event)
    s = np.asarray(stratum)
    if not (arm.shape == y.shape == s.shape) or arm.ndim != 1:
        raise InputError("treated, event and stratum must be 1-D arrays of the same length.")
    if not (np.isin(arm, (0, 1)).all() and np.isin(y, (0, 1)).all()):
        raise InputError("treated and event must hold 0/1 values.")
    _, codes = np.unique(s, return_inverse=True)
    k = int(codes.max(initial=-1)) + 1
    tables = np.zeros((k, 2, 2), dtype=np.int64)  # [stratum, arm (1 first), event (1 first)]
    np.add.at(tables, (codes, 1 - arm.astype(np.int64), 1 - y.astype(np.int64)), 1)
    return tables


def cmh(
    treated: npt.ArrayLike,
    event: npt.ArrayLike,
    stratum: npt.ArrayLike,
    *,
    correction: bool = False,
) -> TestResult:
    """Cochran-Mantel-Haenszel test of no association in any stratum (module docstring)."""
    tables = _strata_tables(treated, event, stratum)
    big = tables.sum(axis=(1, 2)) >= 2
    dropped = int((~big).sum())
    tables = tables[big].astype(np.float64)
    label = "CMH (corrected)" if correction else "CMH"
    note = f"{dropped} stratum/strata with < 2 persons dropped" if dropped else ""
    n = int(tables.sum())
    a = tables[:, 0, 0]
    n1, n0 = tables[:, 0].sum(axis=1), tables[:, 1].sum(axis=1)
    m1, m0 = tables[:, :, 0].sum(axis=1), tables[:, :, 1].sum(axis=1)
    tot = n1 + n0
    var = float((n1 * n0 * m1 * m0 / (tot**2 * (tot - 1))).sum())
    if var == 0:
        return TestResult(label, 0.0, 1.0, 1.0, "asymptotic", n, _join(note, "no variation"))
    dev = abs(float((a - n1 * m1 / tot).sum()))
    if correction:
        dev = max(dev - 0.5, 0.0)
    stat = dev**2 / var
    return TestResult(label, stat, 1.0, float(scipy.stats.chi2.sf(stat, 1)), "asymptotic", n, note)


def stratified_exact(
    treated: npt.ArrayLike, event: npt.ArrayLike, stratum: npt.ArrayLike
) -> TestResult:
    """Exact conditional test of no association given every stratum's margins (docstring)."""
    tables = _strata_tables(treated, event, stratum)
    dist = np.ones(1)
    lo_total = 0
    s_obs = 0
    for t in tables:
        n1, n0 = int(t[0].sum()), int(t[1].sum())
        m1 = int(t[:, 0].sum())
        lo, hi = max(0, m1 - n0), min(n1, m1)
        x = np.arange(lo, hi + 1)
        pmf = scipy.stats.hypergeom.pmf(x, n1 + n0, m1, n1)
        dist = np.convolve(dist, pmf)
        lo_total += lo
        s_obs += int(t[0, 0])
    d_obs = dist[s_obs - lo_total]
    n = int(tables.sum())
    note = "" if dist.size > 1 else "no variation"
    p = float(min(1.0, dist[dist <= d_obs * REL_ERR].sum()))
    return TestResult("stratified exact", float(s_obs), None, p, "exact", n, note)


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a and b else a or b
