r"""Binary-outcome regression (logit, probit, cloglog) on numpy arrays: the engine.

For person :math:`i` with outcome :math:`y_i \in \{0, 1\}`, regressors :math:`x_i` (a row of
``X``, usually with an intercept) and stratum :math:`k(i)`,

.. math::

    P(y_i = 1 \mid x_i) = F(\eta_i), \qquad \eta_i = x_i'\beta + \gamma_{k(i)},

with :math:`F` the logistic cdf (``exp(b)`` is an odds ratio), the standard normal cdf
(probit) or :math:`1 - e^{-e^{\eta}}` (cloglog). The stratum effects :math:`\gamma_k` are
estimated as dummies in the likelihood (first stratum the reference when ``X`` has an
intercept), exactly as a dummy-variable logit in statsmodels.

Persons with identical :math:`(x_i, k(i))` share :math:`\eta_i`, so they are compressed into
one cell with :math:`m_c` persons and :math:`y_c` events; the Bernoulli log likelihood, its
score and Hessian are sums over cells (:mod:`dreamkit.estimate.glm`), which makes 1M persons
with discrete covariates a fit on a few thousand cells. The cluster-robust covariance needs
the score per cluster, computed once at the estimate from the persons:

.. math::

    V_{CRV1} = c\,H^{-1}\Big(\sum_g S_g S_g'\Big)H^{-1}, \quad
    S_g = \sum_{i \in g} x_i\, s_i, \quad c = \frac{G}{G-1}\,\frac{N-1}{N-K},

with :math:`H` the observed information, :math:`s_i = \partial \ell_i / \partial\eta_i` and
:math:`K` counting the stratum dummies; this is statsmodels' ``cov_type="cluster"`` with its
default correction. ``vcov="iid"`` is the inverse expected information (statsmodels GLM's
default; equal to the observed one for the logit).

Average marginal effects (:meth:`BinaryResult.marginal_effects`), averaged over the persons:

* a continuous column :math:`j`: :math:`\frac1N\sum_i f(\eta_i)\,\beta_j` (``f = F'``);
* a single 0/1 column: the average discrete change
  :math:`\frac1N\sum_i [F(\eta_i^{(1)}) - F(\eta_i^{(0)})]` with the column set to 1 and 0 and
  everything else as observed -- statsmodels' ``get_margeff(at="overall", dummy=True)``;
* a level of a categorical factor (a term group of several dummies): the same with *all* the
  factor's dummies set to 0 (reference) and then the level's dummy to 1: the risk difference
  level vs reference, standardised to the sample (Stata's ``margins r.factor``). statsmodels
  instead flips one dummy column with the factor's other dummies left as observed, which
  for persons in a third level compares two levels at once; we do not copy that.

Standard errors by the delta method, :math:`J V J'` with :math:`J` the Jacobian of the
averages with respect to all parameters (stratum effects included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import polars as pl
import scipy.sparse
import scipy.special
import scipy.stats
from numpy.typing import NDArray

from dreamkit.errors import EstimationError, InputError
from dreamkit.estimate.glm import BinomialCells, Factor, crv1, fit_binomial, link_parts
from dreamkit.estimate.results import Result, check_level

BinaryLink = Literal["logit", "probit", "cloglog"]
VcovType = Literal["CRV1", "iid"]
RATIO = {"logit": "odds_ratio", "cloglog": "hazard_ratio"}
SEPARATION_FIX = (
    "Fixes: compare the proportions with an exact test (Fisher's exact test, "
    "scipy.stats.fisher_exact), fit a Firth penalised logit, or merge the level with a "
    "neighbouring one and record why."
)


def cdf(link: str, eta: NDArray[np.float64]) -> NDArray[np.float64]:
    """``F(eta)``: the probability of the outcome."""
    if link == "logit":
        return np.asarray(scipy.special.expit(eta))
    if link == "probit":
        return np.asarray(scipy.special.ndtr(eta))
    return np.asarray(-np.expm1(-np.exp(eta)))


def pdf(link: str, eta: NDArray[np.float64]) -> NDArray[np.float64]:
    """``f(eta) = dF/deta``."""
    if link == "logit":
        mu = scipy.special.expit(eta)
        return np.asarray(mu * (1.0 - mu))
    if link == "probit":
        return np.asarray(np.exp(-0.5 * eta * eta) / np.sqrt(2.0 * np.pi))
    return np.asarray(np.exp(eta - np.exp(eta)))


def dpdf(link: str, eta: NDArray[np.float64]) -> NDArray[np.float64]:
    """``f'(eta)``."""
    if link == "logit":
        mu = scipy.special.expit(eta)
        return np.asarray(mu * (1.0 - mu) * (1.0 - 2.0 * mu))
    if link == "probit":
        return np.asarray(-eta * pdf(link, eta))
    return np.asarray(pdf(link, eta) * (1.0 - np.exp(eta)))


@dataclass(frozen=True)
class TestResult:
    """A chi-square test: statistic, degrees of freedom, p-value, what was tested."""

    __test__: ClassVar[bool] = False  # not a pytest test class despite its name

    method: str
    statistic: float
    df: int
    p_value: float
    terms: tuple[str, ...]
    note: str = ""

    def __str__(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return (
            f"{self.method}: chi2 = {self.statistic:.4g}, df = {self.df}, "
            f"p = {self.p_value:.4g}{note}"
        )

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            [
                {
                    "method": self.method,
                    "statistic": self.statistic,
                    "df": self.df,
                    "p_value": self.p_value,
                    "terms": ", ".join(self.terms),
                    "note": self.note,
                }
            ]
        )


def dense_codes(values: NDArray[Any], what: str) -> tuple[NDArray[np.intp], NDArray[Any]]:
    """Codes 0..L-1 in sorted order of the values and the sorted distinct values; integer
    codes that are already small use ``bincount`` (no sort), others a hash table."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"{what} must be one value per person (a 1-d array).")
    if arr.dtype.kind in "iu" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo >= 0 and hi < 4 * arr.size + 1024:
            present = np.bincount(arr) > 0
            if present.all():
                return arr.astype(np.intp, copy=False), np.arange(hi + 1)
            remap = np.cumsum(present) - 1
            return remap[arr].astype(np.intp), np.flatnonzero(present)
    codes, uniq = pd.factorize(arr, sort=True, use_na_sentinel=True)
    if np.any(codes < 0):
        raise InputError(f"{what} has missing values; drop those persons or give them a code.")
    return np.asarray(codes, dtype=np.intp), np.asarray(uniq)


def sort_clusters(
    cluster: NDArray[np.intp],
) -> tuple[NDArray[np.intp] | None, NDArray[np.intp]]:
    """Persons ordered by cluster code and the start of each cluster (CSR row pointers)."""
    order = np.argsort(cluster, kind="stable").astype(np.intp)
    counts = np.bincount(cluster)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
    return order, indptr


def group_rows(key: NDArray[np.int64]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Groups of equal integer keys: (one member of each group, group of each row)."""
    n = key.shape[0]
    inv, _ = dense_codes(key, "key")
    n_groups = int(inv.max()) + 1 if n else 0
    first = np.empty(n_groups, dtype=np.intp)
    first[inv] = np.arange(n, dtype=np.intp)  # any member: all members are identical
    return first, inv


def _is_binary(col: NDArray[np.float64]) -> bool:
    return bool(np.all((col == 0.0) | (col == 1.0)) and col.min() == 0.0 and col.max() == 1.0)


def _groups(
    names: Sequence[str], term_groups: Mapping[str, Sequence[int]] | None
) -> dict[str, tuple[int, ...]]:
    """Every column in exactly one term: the given groups, then singletons in column order."""
    p = len(names)
    out: dict[str, tuple[int, ...]] = {}
    taken: set[int] = set()
    for term, cols in (term_groups or {}).items():
        idx = tuple(int(c) for c in cols)
        if not idx or any(c < 0 or c >= p for c in idx):
            raise InputError(f"term_groups[{term!r}] = {list(cols)} is not a list of columns of X.")
        if taken & set(idx):
            raise InputError(f"term_groups[{term!r}] shares columns with another term.")
        taken |= set(idx)
        out[term] = idx
    singles = {names[j]: (j,) for j in range(p) if j not in taken}
    return {**out, **singles}


def _check_separation(
    events: NDArray[np.float64],
    trials: NDArray[np.float64],
    xc: NDArray[np.float64],
    names: Sequence[str],
    groups: Mapping[str, tuple[int, ...]],
    has_intercept: bool,
    fe_cells: NDArray[np.intp] | None,
    fe_name: str,
    fe_labels: Sequence[str],
) -> None:
    """Raise :class:`EstimationError` when a level of a dummy term or a stratum has only
    non-events or only events (the maximum-likelihood estimate does not exist). Runs on
    the cells (events and persons per distinct regressor row)."""

    def check(term: str, label: str, ev: float, n: float) -> None:
        if n > 0 and (ev == 0 or ev == n):
            what = "no events" if ev == 0 else "only events"
            raise EstimationError(
                f"separation: {term!r} level {label!r} has {what} ({ev:g} events among "
                f"{n:g} persons), so its coefficient is infinite (the maximum-likelihood "
                f"estimate does not exist). {SEPARATION_FIX}"
            )

    for term, cols in groups.items():
        block = xc[:, list(cols)]
        if not all(_is_binary(block[:, j]) for j in range(block.shape[1])):
            continue
        rowsum = block.sum(axis=1)
        if np.any(rowsum > 1):
            continue  # not a partition into levels (e.g. a set of overlapping indicators)
        for j, c in enumerate(cols):
            on = block[:, j] == 1.0
            label = names[c] if len(cols) > 1 else "1"
            check(term, label, float(events[on].sum()), float(trials[on].sum()))
        if has_intercept:
            ref = rowsum == 0
            label = "reference" if len(cols) > 1 else "0"
            check(term, label, float(events[ref].sum()), float(trials[ref].sum()))
    if fe_cells is not None:
        ev = np.bincount(fe_cells, weights=events, minlength=len(fe_labels))
        n = np.bincount(fe_cells, weights=trials, minlength=len(fe_labels))
        for k in range(len(n)):
            check(fe_name, str(fe_labels[k]), float(ev[k]), float(n[k]))


def _cells(
    x: NDArray[np.float64], fe: NDArray[np.intp] | None
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Persons with identical regressors and stratum -> (a member of each cell, cell of each
    person). A random projection hashed into a table finds the cells (no sort); the result
    is verified exactly, with an exact row-wise fallback on a projection collision."""
    r = np.random.default_rng(20260402).standard_normal(x.shape[1] + 1)
    h = x @ r[:-1]
    if fe is not None:
        h = h + fe * r[-1]
    codes, _ = pd.factorize(h)
    inv = np.asarray(codes, dtype=np.intp)
    first = np.empty(int(inv.max()) + 1, dtype=np.intp)
    first[inv] = np.arange(inv.size, dtype=np.intp)
    same = np.array_equal(x[first][inv], x) and (fe is None or np.array_equal(fe[first][inv], fe))
    if not same:
        z = x if fe is None else np.column_stack([x, fe])
        _, first, inv = np.unique(z, axis=0, return_index=True, return_inverse=True)
    return first.astype(np.intp), inv.reshape(-1).astype(np.intp)


def fit_binary(
    y: NDArray[Any],
    X: NDArray[Any],
    names: Sequence[str],
    *,
    link: BinaryLink = "logit",
    fe: NDArray[Any] | None = None,
    fe_name: str = "stratum",
    fe_labels: Sequence[str] | None = None,
    cluster: NDArray[Any] | None = None,
    vcov: VcovType | None = None,
    term_groups: Mapping[str, Sequence[int]] | None = None,
    weights: NDArray[Any] | None = None,
    level: float = 0.95,
    notes: Sequence[str] = (),
    n_dropped: int = 0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> BinaryResult:
    """Fit ``P(y = 1) = F(X b + gamma_stratum)`` by maximum likelihood (module docstring).

    Args:
        y: 0/1 outcome per person.
        X: regressors (n, p), usually with an intercept column; names: their p names.
        link: ``"logit"`` (odds ratios), ``"probit"`` or ``"cloglog"``.
        fe: stratum codes per person (any sortable values), absorbed as dummies in the
            likelihood; first stratum the reference when ``X`` has a constant column.
        fe_name: the stratum's name in terms and messages.
        fe_labels: labels of the strata when ``fe`` holds codes 0..K-1 (default: the
            sorted values of ``fe`` as text).
        cluster: cluster codes per person for ``vcov="CRV1"``.
        vcov: ``"CRV1"`` (default with ``cluster``) or ``"iid"``.
        term_groups: columns of ``X`` forming one factor (``{"illness": [1, 2]}``) for the
            joint Wald test and the level-vs-reference marginal effects; other columns are
            their own term.
        weights: frequency weights (positive integers: a row stands for that many persons).
        level: default interval level of ``tidy()``.
        notes, n_dropped: bookkeeping of the data layer, shown by ``summary()``.

    Raises:
        InputError: bad shapes, a non-0/1 outcome, non-finite values.
        EstimationError: separation (a level or stratum with no events or only events),
            a collinear design or a fit that does not converge.
    """
    level = check_level(level)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    xm = np.asarray(X, dtype=np.float64)
    n = yv.shape[0]
    if xm.ndim != 2 or xm.shape[0] != n:
        raise InputError(f"X must be (n, p) with n = {n} rows (one per outcome); got {xm.shape}.")
    names = [str(c) for c in names]
    if len(names) != xm.shape[1] or len(set(names)) != len(names):
        raise InputError(f"names must be {xm.shape[1]} distinct column names; got {names}.")
    if n == 0:
        raise InputError("no persons to fit.")
    if not np.all(np.isfinite(yv)) or not np.all((yv == 0) | (yv == 1)):
        raise InputError("the outcome must be coded 0/1 with no missing values.")
    if not np.all(np.isfinite(xm)):
        bad = [names[j] for j in np.flatnonzero(~np.all(np.isfinite(xm), axis=0))]
        raise InputError(f"columns {bad} have missing or infinite values; drop or recode them.")
    if link not in ("logit", "probit", "cloglog"):
        raise InputError(f"link={link!r} is not supported; use 'logit', 'probit' or 'cloglog'.")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n or not np.all(np.isfinite(w)) or np.any(w <= 0) or np.any(w % 1 != 0):
        raise InputError("weights must be positive integers (frequency weights), one per row.")
    vcov_type: VcovType = vcov or ("CRV1" if cluster is not None else "iid")
    if vcov_type not in ("CRV1", "iid"):
        raise InputError(f"vcov={vcov!r} is not supported; use 'CRV1' or 'iid'.")
    if vcov_type == "CRV1" and cluster is None:
        raise InputError("vcov='CRV1' needs cluster codes (cluster=...); or use vcov='iid'.")
    g_codes: NDArray[np.intp] | None = None
    n_g = 0
    if cluster is not None:
        if len(cluster) != n:
            raise InputError(f"cluster has {len(cluster)} codes for {n} persons.")
        g_codes, g_uniq = dense_codes(np.asarray(cluster), "cluster")
        n_g = len(g_uniq)
    fe_codes: NDArray[np.intp] | None = None
    labels: tuple[str, ...] = ()
    if fe is not None:
        if len(fe) != n:
            raise InputError(f"fe has {len(fe)} codes for {n} persons.")
        fe_codes, fe_uniq = dense_codes(np.asarray(fe), "fe")
        given = None if fe_labels is None else list(fe_labels)
        labels = tuple(str(v if given is None else given[int(v)]) for v in fe_uniq)
    first, inv = _cells(xm, fe_codes)
    return fit_cells(
        yv,
        w,
        inv,
        xm[first],
        names,
        link=link,
        fe_cells=None if fe_codes is None else fe_codes[first],
        fe_name=fe_name,
        fe_labels=labels,
        cluster=g_codes,
        n_clusters=n_g,
        vcov=vcov_type,
        term_groups=term_groups,
        level=level,
        notes=notes,
        n_dropped=n_dropped,
        tol=tol,
        max_iter=max_iter,
    )


def fit_cells(
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    inv: NDArray[np.intp],
    xc: NDArray[np.float64],
    names: Sequence[str],
    *,
    link: BinaryLink,
    fe_cells: NDArray[np.intp] | None,
    fe_name: str,
    fe_labels: tuple[str, ...],
    cluster: NDArray[np.intp] | None,
    n_clusters: int,
    vcov: VcovType,
    term_groups: Mapping[str, Sequence[int]] | None,
    level: float,
    notes: Sequence[str] = (),
    n_dropped: int = 0,
    tol: float = 1e-10,
    max_iter: int = 100,
    cluster_order: tuple[NDArray[np.intp] | None, NDArray[np.intp]] | None = None,
) -> BinaryResult:
    """The fit on validated, compressed data: person-level outcome ``y``, weights ``w``,
    cell ``inv`` of each person (0..C-1) and cluster codes (0..G-1); cell-level regressors
    ``xc`` (C, p) and stratum codes ``fe_cells`` (0..K-1, labels ``fe_labels``)."""
    names = list(names)
    n_g = n_clusters
    if vcov == "CRV1" and cluster is None:
        raise InputError("vcov='CRV1' needs cluster codes (cluster=...); or use vcov='iid'.")
    if vcov == "CRV1" and n_g < 2:
        raise InputError("vcov='CRV1' needs at least 2 clusters; use vcov='iid'.")
    n_cells = xc.shape[0]
    has_intercept = bool(np.any(np.all(xc == 1.0, axis=0)))
    groups = _groups(names, term_groups)
    events = np.asarray(np.bincount(inv, weights=w * y, minlength=n_cells), np.float64)
    trials = np.asarray(np.bincount(inv, weights=w, minlength=n_cells), np.float64)
    _check_separation(
        events, trials, xc, names, groups, has_intercept, fe_cells, fe_name, fe_labels
    )
    factors: tuple[Factor, ...] = ()
    if fe_cells is not None and (len(fe_labels) > 1 or not has_intercept):
        factors = (Factor(fe_name, fe_cells, fe_labels, reference=has_intercept),)
    cells = BinomialCells(events, trials, factors, xc, tuple(names))
    try:
        glm = fit_binomial(cells, link, "iid", tol=tol, max_iter=max_iter)
    except EstimationError as err:
        raise EstimationError(
            f"the {link} fit failed: {err} For a binary outcome this is usually "
            f"(quasi-)separation by a combination of covariates. {SEPARATION_FIX}"
        ) from None
    p, k_fe = xc.shape[1], len(glm.names) - xc.shape[1]
    perm = np.r_[np.arange(k_fe, k_fe + p), np.arange(k_fe)]
    params = glm.params[perm]
    assert glm.hessian is not None
    hessian = glm.hessian[np.ix_(perm, perm)]
    fe_kept = np.asarray(factors[0].kept) if factors else np.zeros(0, np.intp)
    fe_used = factors[0].codes if factors else None
    corr = 1.0
    if vcov == "iid":
        cov = glm.cov[np.ix_(perm, perm)]
    else:
        assert cluster is not None
        eta_c = _eta(xc, fe_used, fe_kept, params, p, len(fe_labels))
        one = np.ones_like(eta_c)
        s1 = link_parts(link, eta_c, one, one)[1]
        s0 = link_parts(link, eta_c, np.zeros_like(eta_c), one)[1]
        s_i = w * np.where(y == 1.0, s1[inv], s0[inv])
        # A[g, c] = sum of the scores of the persons of cell c in cluster g; S = A [X, D].
        # Rows of A from the persons sorted by cluster (duplicates summed by the products)
        order, indptr = cluster_order if cluster_order is not None else sort_clusters(cluster)
        if order is not None:  # None: the persons are already sorted by cluster
            s_i, inv = s_i[order], inv[order]
        a = scipy.sparse.csr_matrix((s_i, inv, indptr), shape=(n_g, n_cells))
        blocks = [np.asarray(a @ xc)]
        if factors:
            assert fe_used is not None
            onehot = scipy.sparse.csr_matrix(
                (np.ones(n_cells), (np.arange(n_cells), fe_used)),
                shape=(n_cells, len(fe_labels)),
            )
            blocks.append(np.asarray((a @ onehot).toarray())[:, fe_kept])
        cov, corr = crv1(hessian, np.hstack(blocks), float(w.sum()))
    return BinaryResult(
        names=tuple(names),
        fe_names=tuple(glm.names[:k_fe]),
        params=params,
        cov=cov,
        link=link,
        vcov_type=vcov,
        log_likelihood=glm.log_likelihood,
        iterations=glm.iterations,
        n_obs=round(float(w.sum())),
        n_events=round(float(events.sum())),
        n_clusters=n_g,
        n_cells=n_cells,
        correction=corr,
        level=level,
        groups=groups,
        fe_name=fe_name if factors else None,
        notes=tuple(notes),
        n_dropped=n_dropped,
        x_cells=xc,
        fe_cells=fe_used,
        fe_kept=fe_kept,
        n_fe_levels=len(fe_labels),
        trials=trials,
    )


def _eta(
    xc: NDArray[np.float64],
    fe_cells: NDArray[np.intp] | None,
    fe_kept: NDArray[np.intp],
    params: NDArray[np.float64],
    p: int,
    n_levels: int,
) -> NDArray[np.float64]:
    eta = xc @ params[:p]
    if fe_cells is not None:
        full = np.zeros(n_levels)
        full[fe_kept] = params[p:]
        eta = eta + full[fe_cells]
    return np.asarray(eta)


@dataclass(frozen=True, repr=False)
class BinaryResult(Result):
    """A fitted logit/probit/cloglog model (result protocol).

    ``tidy()`` shows the columns of ``X``; ``tidy(fixed_effects=True)`` adds the stratum
    dummies; ``tidy(exponentiate=True)`` gives odds ratios (logit) with Wald intervals
    ``exp(b -/+ z se)``. :attr:`vcov` is the covariance of all parameters in the order of
    ``tidy(fixed_effects=True)``. Intervals and p-values are normal (Wald z), as statsmodels
    reports for Logit/GLM.
    """

    names: tuple[str, ...]
    fe_names: tuple[str, ...]
    params: NDArray[np.float64]
    cov: NDArray[np.float64]
    link: str
    vcov_type: str
    log_likelihood: float
    iterations: int
    n_obs: int
    n_events: int
    n_clusters: int
    n_cells: int
    correction: float
    level: float
    groups: Mapping[str, tuple[int, ...]]
    fe_name: str | None
    notes: tuple[str, ...]
    n_dropped: int
    x_cells: NDArray[np.float64] = field(repr=False)
    fe_cells: NDArray[np.intp] | None = field(repr=False)
    fe_kept: NDArray[np.intp] = field(repr=False)
    n_fe_levels: int = 0
    trials: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)

    family_columns: ClassVar[tuple[str, ...]] = ()

    @property
    def model_name(self) -> str:
        return {"logit": "Logit", "probit": "Probit", "cloglog": "Cloglog"}[self.link]

    @property
    def ratio_name(self) -> str | None:
        return RATIO.get(self.link)

    @property
    def vcov(self) -> NDArray[np.float64]:
        return self.cov

    @property
    def terms(self) -> tuple[str, ...]:
        """All parameter names: the columns of ``X``, then the stratum dummies."""
        return (*self.names, *self.fe_names)

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def std_errors(self) -> NDArray[np.float64]:
        return np.asarray(np.sqrt(np.diag(self.cov)))

    def _fitted_level(self) -> float:
        return self.level

    def _index(self, term: str) -> int:
        try:
            return self.terms.index(term)
        except ValueError:
            raise InputError(f"no term {term!r}; terms are {list(self.names)}.") from None

    def coef(self, term: str) -> float:
        return float(self.params[self._index(term)])

    def se(self, term: str) -> float:
        return float(self.std_errors[self._index(term)])

    def _coefficients(self) -> pl.DataFrame:
        k = len(self.params)
        return pl.DataFrame(
            {
                "term": list(self.terms),
                "estimate": self.params,
                "std_error": self.std_errors,
                "df": np.full(k, np.inf),
            }
        )

    def _hidden_terms(self) -> set[str]:
        """The stratum dummies after the columns of ``X`` (shown with
        ``tidy(fixed_effects=True)``)."""
        return set(self.terms[len(self.names) :])

    def _glance(self) -> dict[str, Any]:
        k = len(self.params)
        return {
            "n_obs": self.n_obs,
            "n_clusters": self.n_clusters,
            "vcov_type": self.vcov_type,
            "df": None,
            "log_likelihood": self.log_likelihood,
            "link": self.link,
            "n_events": self.n_events,
            "n_params": k,
            "aic": -2.0 * self.log_likelihood + 2.0 * k,
            "bic": -2.0 * self.log_likelihood + k * np.log(self.n_obs),
            "fixed_effects": self.fe_name,
            "n_cells": self.n_cells,
            "n_dropped": self.n_dropped,
            "iterations": self.iterations,
            "converged": True,
        }

    def _notes(self) -> Sequence[str]:
        corr = (
            (f"CRV1 small-sample factor {self.correction:.4f}",) if self.vcov_type == "CRV1" else ()
        )
        return (*corr, *self.notes)

    def __repr__(self) -> str:
        return Result.__repr__(self)

    # ---- tests -------------------------------------------------------------------------
    def _term_columns(self, term: str | Sequence[str]) -> tuple[list[int], tuple[str, ...]]:
        if isinstance(term, str):
            if term in self.groups:
                return list(self.groups[term]), (term,)
            if term == self.fe_name:
                return list(range(len(self.names), len(self.params))), (term,)
            return [self._index(term)], (term,)
        return [self._index(t) for t in term], tuple(term)

    def wald_test(self, term: str | Sequence[str]) -> TestResult:
        """Joint Wald test that all coefficients of ``term`` are 0: ``W = b' V^{-1} b``,
        chi-square with as many df as coefficients (the "overall p" of a factor).

        ``term`` is a factor (a key of ``term_groups``), a column name, the stratum name, or a
        list of column names. Uses :attr:`vcov` (CRV1 or iid), as statsmodels'
        ``wald_test(..., scalar=True, use_f=False)``.
        """
        cols, label = self._term_columns(term)
        b = self.params[cols]
        v = self.cov[np.ix_(cols, cols)]
        try:
            stat = float(b @ np.linalg.solve(v, b))
        except np.linalg.LinAlgError:
            raise EstimationError(f"the covariance of {list(label)} is singular.") from None
        return TestResult(
            "Wald chi2", stat, len(cols), float(scipy.stats.chi2.sf(stat, len(cols))), label
        )

    def lr_test(self, other: BinaryResult) -> TestResult:
        """Likelihood-ratio test between nested models: ``LR = 2 (l_1 - l_0)``, chi-square
        with ``K_1 - K_0`` df (the larger model is the alternative, whichever is ``self``).

        Both models must be fitted to the same persons (equal N and events) with the same
        link, and the smaller model's terms must all be in the larger one. The LR statistic
        assumes independent persons: with clustered data prefer :meth:`wald_test`.
        """
        if not isinstance(other, BinaryResult):
            raise InputError("lr_test needs another BinaryResult.")
        if self.n_obs != other.n_obs or self.n_events != other.n_events:
            raise InputError(
                f"the models are fitted to different samples (N {self.n_obs} vs "
                f"{other.n_obs}, events {self.n_events} vs {other.n_events}); fit both on the "
                "same complete cases (missing='drop' on the union of their variables)."
            )
        if self.link != other.link:
            raise InputError(f"links differ ({self.link} vs {other.link}): not nested.")
        big, small = (self, other) if self.n_params >= other.n_params else (other, self)
        missing = set(small.terms) - set(big.terms)
        if big.n_params == small.n_params or missing:
            raise InputError(
                "the models are not nested: "
                + (
                    f"terms {sorted(missing)} of the smaller model are not in the larger one."
                    if missing
                    else "both have the same number of parameters."
                )
            )
        stat = max(2.0 * (big.log_likelihood - small.log_likelihood), 0.0)
        df = big.n_params - small.n_params
        added = tuple(t for t in big.terms if t not in set(small.terms))
        note = (
            "persons are clustered: the LR test assumes independence; the Wald test uses CRV1"
            if "CRV1" in (self.vcov_type, other.vcov_type)
            else ""
        )
        return TestResult(
            "likelihood ratio", stat, df, float(scipy.stats.chi2.sf(stat, df)), added, note
        )

    # ---- marginal effects ----------------------------------------------------------------
    def _eta(self, xc: NDArray[np.float64]) -> NDArray[np.float64]:
        """Linear predictor of the cells with their regressors replaced by ``xc``."""
        return _eta(xc, self.fe_cells, self.fe_kept, self.params, len(self.names), self.n_fe_levels)

    def _fe_sum(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.fe_cells is None:
            return np.zeros(0)
        sums = np.bincount(self.fe_cells, weights=v, minlength=self.n_fe_levels)
        return np.asarray(sums[self.fe_kept])

    def _change(
        self, x0: NDArray[np.float64], x1: NDArray[np.float64]
    ) -> tuple[float, NDArray[np.float64]]:
        """Average ``F(eta1) - F(eta0)`` over persons and its gradient."""
        m = self.trials
        n = m.sum()
        eta0, eta1 = self._eta(x0), self._eta(x1)
        est = float(m @ (cdf(self.link, eta1) - cdf(self.link, eta0)) / n)
        f0, f1 = m * pdf(self.link, eta0), m * pdf(self.link, eta1)
        grad = np.r_[(f1 @ x1 - f0 @ x0), self._fe_sum(f1 - f0)] / n
        return est, grad

    def _effects(self, terms: Sequence[str] | None) -> tuple[list[dict[str, Any]], NDArray]:
        xc, m = self.x_cells, self.trials
        n = m.sum()
        eta = self._eta(xc)
        f, fp = pdf(self.link, eta), dpdf(self.link, eta)
        wanted = list(self.groups) if terms is None else list(terms)
        wanted.sort(key=lambda t: min(self.groups[t]) if t in self.groups else -1)
        rows: list[dict[str, Any]] = []
        grads: list[NDArray[np.float64]] = []
        for term in wanted:
            if term not in self.groups:
                raise InputError(f"no term {term!r}; terms are {list(self.groups)}.")
            cols = self.groups[term]
            if len(cols) == 1 and np.all(xc[:, cols[0]] == 1.0):
                continue  # the intercept
            binary = all(_is_binary(xc[:, c]) for c in cols)
            if len(cols) > 1 and binary:
                for c in cols:
                    x0 = xc.copy()
                    x0[:, list(cols)] = 0.0
                    x1 = x0.copy()
                    x1[:, c] = 1.0
                    est, grad = self._change(x0, x1)
                    rows.append(
                        {
                            "term": self.names[c],
                            "factor": term,
                            "type": "contrast",
                            "estimate": est,
                        }
                    )
                    grads.append(grad)
                continue
            for c in cols:
                if _is_binary(xc[:, c]):
                    x0, x1 = xc.copy(), xc.copy()
                    x0[:, c], x1[:, c] = 0.0, 1.0
                    est, grad = self._change(x0, x1)
                    kind = "discrete"
                else:
                    b = self.params[c]
                    est = float(m @ f * b / n)
                    mf = m * fp * b
                    grad = np.r_[mf @ xc, self._fe_sum(mf)] / n
                    grad[c] += float(m @ f / n)
                    kind = "dydx"
                rows.append({"term": self.names[c], "factor": term, "type": kind, "estimate": est})
                grads.append(grad)
        jac = np.array(grads).reshape(len(grads), len(self.params))
        return rows, jac

    def marginal_effects(self, terms: Sequence[str] | None = None) -> MarginalEffects:
        """Average marginal effects on the probability scale with delta-method SEs (module
        docstring): ``dydx`` for continuous columns, the average discrete change for 0/1
        columns and level-vs-reference risk differences for factors. ``terms``: a subset of
        the terms (factor names or column names); default all but the intercept."""
        rows, jac = self._effects(terms)
        cov = jac @ self.cov @ jac.T
        return MarginalEffects(
            table=pl.DataFrame(
                rows,
                schema={
                    "term": pl.String,
                    "factor": pl.String,
                    "type": pl.String,
                    "estimate": pl.Float64,
                },
            ),
            cov=(cov + cov.T) / 2,
            level=self.level,
            n_obs=self.n_obs,
            n_clusters=self.n_clusters,
            vcov_type=self.vcov_type,
        )

    def risk_difference(self, term: str) -> pl.DataFrame:
        """Risk difference(s) of a 0/1 or categorical term on the probability scale: the
        average over the sample of ``P(y=1 | level) - P(y=1 | reference)`` with everything
        else as observed, with delta-method SE and Wald interval (``tidy`` columns)."""
        return self.marginal_effects([term]).tidy()


@dataclass(frozen=True, repr=False)
class MarginalEffects(Result):
    """Average marginal effects / risk differences of a :class:`BinaryResult` (probability
    scale; result protocol; :attr:`vcov` is their delta-method covariance).

    ``tidy()`` columns after the protocol's: ``type`` (``"dydx"``: derivative of a continuous
    column; ``"discrete"``: 0 -> 1 change of a 0/1 column; ``"contrast"``: factor level vs
    its reference) and ``factor`` (the term the column belongs to)."""

    table: pl.DataFrame
    cov: NDArray[np.float64]
    level: float
    n_obs: int
    n_clusters: int
    vcov_type: str

    family_columns: ClassVar[tuple[str, ...]] = ("type",)

    @property
    def model_name(self) -> str:
        return "Average marginal effects"

    @property
    def vcov(self) -> NDArray[np.float64]:
        return self.cov

    def _fitted_level(self) -> float:
        return self.level

    def _coefficients(self) -> pl.DataFrame:
        k = self.table.height
        return self.table.with_columns(
            pl.Series("std_error", np.sqrt(np.diag(self.cov)) if k else np.zeros(0)),
            pl.Series("df", np.full(k, np.inf)),
        )

    def _glance(self) -> dict[str, Any]:
        return {
            "n_obs": self.n_obs,
            "n_clusters": self.n_clusters,
            "vcov_type": self.vcov_type,
            "df": None,
            "log_likelihood": None,
        }

    def __repr__(self) -> str:
        return Result.__repr__(self)
