"""Evaluation: tracking metrics against ground truth, trace metrics, policy rollouts, reports."""
