"""Linear models on one row per person: the ITT effect path (FWL with absorbed strata),
balance, self-efficacy heterogeneity, peers, robustness models and the prognostic Tobit."""
