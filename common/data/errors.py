"""The two ways a dataset fails, raised by every reader of the study and caught by the runner and the notebooks."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is in none of the places looked at, and could not be downloaded."""


class DatasetCorruptError(ValueError):
    """A dataset file exists but cannot be parsed (truncated, wrong format)."""
