"""Prefect flows: the second thin driver of mu0's stages (DVC's dvc.yaml is the first)."""
