"""What training refuses before or instead of training; the CLI prints these as one message, not a traceback."""


class RunRefused(ValueError):
    """A run that cannot start as asked: its folder, its checkpoint or its DeepSpeed config say no."""
