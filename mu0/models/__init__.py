"""μ_0 and its baselines: B-splines, backbone, trace expert, world model, action expert. Never imports data code."""
