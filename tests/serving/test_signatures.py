"""The served models' signatures are typed tensors, so MLflow itself refuses a request of the wrong shape or
dtype before the model runs, and a correct request answers exactly as the wrapper called directly."""

from __future__ import annotations

import types

import numpy as np
import pytest

from tests.serving.fixtures import MODEL, tiny_policy


@pytest.fixture(scope="module")
def logged(registry, tmp_path_factory):
    """(model URI, the model loaded back through MLflow, the model folder) for the tiny μ_0."""
    import mlflow

    from mu0.mlops.tracking import run
    from mu0.serving.log_model import log_trace_model

    _, model_dir = registry
    with run("log-trace-model", system_metrics=False) as t:
        uri = log_trace_model(model_dir, t.run_id, (32, 32), MODEL.horizon)
    loaded = mlflow.pyfunc.load_model(uri, dst_path=str(tmp_path_factory.mktemp("dl")))
    return uri, loaded, model_dir


@pytest.mark.slow
def test_the_trace_signature_names_shapes_and_dtypes(logged):
    import mlflow

    signature = mlflow.models.get_model_info(logged[0]).signature
    inputs = {s.name: (str(s.type), s.shape) for s in signature.inputs.inputs}
    assert inputs == {"image": ("uint8", (-1, -1, -1, 3)), "instruction": ("<U0", (-1,)),
                      "points_px": ("float32", (-1, -1, 2))}
    assert [(s.name, str(s.type), s.shape) for s in signature.outputs.inputs] == [("traces", "float32",
                                                                                   (-1, -1, 8, 3))]


BAD = {"points with a third coordinate": ({"points_px": np.zeros((1, 2, 3), np.float32)},
                                          r"Shape of input \(1, 2, 3\) does not match expected shape \(-1, -1, 2\)"),
       "points as float64": ({"points_px": np.zeros((1, 2, 2))},
                             "dtype of input float64 does not match expected dtype float32"),
       "a grey image": ({"image": np.zeros((1, 32, 32), np.uint8)},
                        r"Shape of input \(1, 32, 32\) does not match expected shape \(-1, -1, -1, 3\)"),
       "a float image": ({"image": np.zeros((1, 32, 32, 3), np.float32)},
                         "dtype of input float32 does not match expected dtype uint8"),
       "no points": ({"points_px": None}, r"Model is missing inputs \['points_px'\]")}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD))
def test_mlflow_refuses_a_request_of_the_wrong_shape_or_dtype(logged, case):
    from mlflow.exceptions import MlflowException

    from mu0.serving.signatures import trace_example

    change, message = BAD[case]
    request = {k: v for k, v in {**trace_example((32, 32)), **change}.items() if v is not None}
    with pytest.raises(MlflowException, match=message) as refused:
        logged[1].predict(request)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert str(refused.value).startswith("Failed to enforce schema")  # MLflow's check, not the wrapper's


def _direct(wrapper, folder):
    wrapper.load_context(types.SimpleNamespace(artifacts={"model": str(folder)}))
    return wrapper


@pytest.mark.slow
def test_a_correct_request_answers_as_the_wrapper_called_directly(logged):
    import torch

    from mu0.serving.signatures import trace_example
    from mu0.serving.trace_pyfunc import TracePyfunc

    _, loaded, model_dir = logged
    rng = np.random.default_rng(0)
    request = {**trace_example((32, 32)), "image": rng.integers(0, 255, (2, 24, 40, 3), dtype=np.uint8),
               "instruction": np.array(["push the puck", "open the drawer"]),
               "points_px": np.array([[[3, 4], [20, 10], [39, 23]]] * 2, np.float32)}
    wrapper = _direct(TracePyfunc(), model_dir)  # loaded first: building a model draws random numbers
    torch.manual_seed(0)  # each trace is one flow sample
    served = loaded.predict(request)
    torch.manual_seed(0)
    direct = wrapper.predict(None, request)
    assert served["traces"].shape == (2, 3, 8, 3) and served["traces"].dtype == np.float32
    np.testing.assert_array_equal(served["traces"], direct["traces"])


@pytest.mark.slow
def test_a_logged_policy_answers_as_its_wrapper_and_refuses_a_wrong_proprio(registry, tmp_path):
    import mlflow

    from mu0.bundle.read import read_config
    from mu0.mlops.tracking import run
    from mu0.serving.log_model import log_policy_model
    from mu0.serving.policy_pyfunc import PolicyPyfunc
    from mu0.serving.signatures import policy_example

    folder = tiny_policy(tmp_path / "policy")
    with run("log-policy", system_metrics=False) as t:
        uri = log_policy_model(folder, t.run_id, (32, 32), read_config(folder))
    signature = mlflow.models.get_model_info(uri).signature
    assert {s.name: s.shape for s in signature.outputs.inputs} == {"actions": (-1, 4, 4), "trace_px": (-1, -1, -1, 2)}
    (tmp_path / "dl").mkdir()
    loaded = mlflow.pyfunc.load_model(uri, dst_path=str(tmp_path / "dl"))
    served, direct = loaded.predict(policy_example((32, 32))), _direct(PolicyPyfunc(), folder).predict(
        None, policy_example((32, 32)))  # both runners start from the same seeded noise
    for name in ("actions", "trace_px"):
        np.testing.assert_array_equal(served[name], direct[name])
    with pytest.raises(mlflow.exceptions.MlflowException, match=r"expected shape \(-1, 4\)"):
        loaded.predict({**policy_example((32, 32)), "proprio": np.zeros((1, 7), np.float32)})
