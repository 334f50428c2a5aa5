"""Duration models: person-period data, discrete-time hazards (logit, cloglog), duration
dependence, predicted survival, and Kaplan-Meier / log-rank / Cox via lifelines."""
