"""Perceptual hashing of past cases and scanning for re-uploads."""
