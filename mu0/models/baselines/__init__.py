"""Baselines μ_0 must beat on the same data: kinematic extrapolation, ATM-style and tokenized-VLM models."""
