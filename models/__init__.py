"""Recidivism: follow-up frames, survival analysis and risk models."""
