"""Serving trained models: MLflow pyfunc wrappers (HTTP through `mlflow models serve`)."""
