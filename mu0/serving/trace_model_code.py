"""The file MLflow logs as the pyfunc's code (models-from-code): it only names the wrapper."""

import mlflow

from mu0.serving.trace_pyfunc import TracePyfunc


class _Model(TracePyfunc, mlflow.pyfunc.PythonModel):
    pass


mlflow.models.set_model(_Model())
