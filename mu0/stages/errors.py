"""What a stage refuses before doing any work (the CLI exits 2 on these; a flow task fails with the message)."""


class BadArguments(ValueError):
    """The stage's arguments contradict each other or the world (e.g. seeds that overlap)."""


class ValidationRefused(ValueError):
    """The validation report says the data failed, or accepts no episode."""
