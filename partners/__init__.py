"""The partners of the matching API: their tokens, what their requests read and record."""
