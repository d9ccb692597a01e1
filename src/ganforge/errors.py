"""Exceptions with messages meant for people: the CLI prints them without a traceback."""


class GanforgeError(Exception):
    """Base class of errors whose message alone tells the user what went wrong and what to do."""


class ConfigError(GanforgeError, ValueError):
    """A configuration key or value is wrong."""


class DataError(GanforgeError):
    """A data source is missing, empty or unreadable."""


class CheckpointError(GanforgeError):
    """A checkpoint is missing, truncated, of another model, or not in the safetensors + JSON format."""


class TrainingDiverged(GanforgeError):
    """A loss or weight became NaN or infinite."""
