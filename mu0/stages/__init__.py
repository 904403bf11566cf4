"""The pipeline's stages as library functions: each takes its arguments (a frozen dataclass that a preset fills
and a user overrides) and an explicit tracking choice, does the work, and returns a small typed result.

The CLI parses argv into the arguments and prints the result; a Prefect task calls the same function and
returns the result to its flow; `dvc.yaml` calls the CLI. Nothing here parses argv or reads a report back
from a fixed path.
"""
