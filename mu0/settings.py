"""Environment settings (infrastructure, not experiment config), read from `MU0_*` variables.

Credentials are never settings: boto3 and DVC read AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
AWS_SESSION_TOKEN from the environment themselves, so no secret ever lands in a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

# The tools' usage telemetry, off: this platform runs offline, where a telemetry call only logs an error
# nobody caused. Set in the environment of every server and chain mu0 starts.
NO_TELEMETRY = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "MLFLOW_DISABLE_TELEMETRY": "true",
                "DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "false"}


class Mu0Settings(BaseSettings):
    """Where things live. Every field can be set as MU0_<FIELD> (e.g. MU0_S3_ENDPOINT_URL)."""

    model_config = SettingsConfigDict(env_prefix="MU0_", extra="ignore")

    # Which DVC remote `mu0 ingest` pushes to: a folder outside the repo, S3, or none.
    dvc_remote: Literal["local", "s3", "none"] = "local"
    # The folder behind the default local DVC remote (outside the repository on purpose).
    dvc_local_remote: Path = Path.home() / ".cache" / "mu0" / "dvc-remote"
    # S3 endpoint for boto3 and DVC; empty means AWS itself. Tests point it at a moto server.
    s3_endpoint_url: str = ""
    # Bucket that holds the DVC remote when dvc_remote = "s3".
    s3_bucket: str = "mu0"
    # Key prefix of the DVC remote inside that bucket.
    s3_dvc_prefix: str = "dvc"
    # AWS region used for clients and the DVC remote.
    s3_region: str = "us-east-1"


def load_settings() -> Mu0Settings:
    """Read the settings now (not at import, so tests can change the environment first)."""
    return Mu0Settings()
