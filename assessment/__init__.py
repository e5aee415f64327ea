"""Instruments of the three-step matrix: loading, scoring and psychometrics."""
