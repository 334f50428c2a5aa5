"""dreamkit: register-based labour-market econometrics for DREAM-style data."""

__version__ = "0.1.0"
