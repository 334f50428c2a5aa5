"""Estimators of the reference study.

ITT paths, balance, self-efficacy heterogeneity, peers, robustness and hazards.
"""
