"""Trace datasets for training: episode splits, normalisation statistics, the torch Dataset."""
