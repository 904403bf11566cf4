"""The file MLflow logs as the policy pyfunc's code (models-from-code): it only names the wrapper."""

import mlflow

from mu0.serving.policy_pyfunc import PolicyPyfunc


class _Model(PolicyPyfunc, mlflow.pyfunc.PythonModel):
    pass


mlflow.models.set_model(_Model())
