"""mu0: the μ_0 3D interaction-trace world model and the platform that trains it from video.

Importing this package is cheap and has no side effects; heavy dependencies (mujoco, metaworld,
boto3, dvc, torch) are imported inside the functions that need them.
"""

__version__ = "0.1.0"
