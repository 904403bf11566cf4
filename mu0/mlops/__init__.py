"""MLOps adapters: DVC versioning, MLflow tracking and registry, S3 storage. Works on paths and dicts."""
