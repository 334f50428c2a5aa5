"""Small trials: exact and asymptotic tests of 2 x k tables, McNemar for pairs, stratified
tests, randomisation inference within pairs or strata, risk differences with Newcombe
intervals, and the Shapiro-Wilk -> t / Wilcoxon convention for continuous outcomes; every
variant labelled. Equations: ``docs/small-trials.md``.
"""

from dreamkit.estimate.smalltrial.contingency import (
    TestResult,
    cmh,
    crosstab,
    fisher,
    fisher_2xk_pvalue,
    mcnemar,
    pearson,
    stratified_exact,
)
from dreamkit.estimate.smalltrial.continuous import compare_continuous
from dreamkit.estimate.smalltrial.exact_interval import exact_rd_interval, exact_rd_pvalue
from dreamkit.estimate.smalltrial.mantel_haenszel import MantelHaenszelResult, mantel_haenszel
from dreamkit.estimate.smalltrial.randomisation import complete_pairs, randomisation_test
from dreamkit.estimate.smalltrial.risk_difference import (
    RiskDifferenceResult,
    newcombe,
    risk_difference,
    wilson,
)
from dreamkit.estimate.smalltrial.tables import (
    as_long,
    compare_proportions,
    horizon_tables,
    proportions_table,
    results_frame,
)

__all__ = [
    "MantelHaenszelResult",
    "RiskDifferenceResult",
    "TestResult",
    "as_long",
    "cmh",
    "compare_continuous",
    "compare_proportions",
    "complete_pairs",
    "crosstab",
    "exact_rd_interval",
    "exact_rd_pvalue",
    "fisher",
    "fisher_2xk_pvalue",
    "horizon_tables",
    "mantel_haenszel",
    "mcnemar",
    "newcombe",
    "pearson",
    "proportions_table",
    "randomisation_test",
    "results_frame",
    "risk_difference",
    "stratified_exact",
    "wilson",
]
