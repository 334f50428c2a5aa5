"""Estimators of the reference study: ITT paths, balance, heterogeneity, peers, robustness, hazards."""
