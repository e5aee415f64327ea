"""The three-step assessment matrix: stage rules, change and programme outcomes."""
