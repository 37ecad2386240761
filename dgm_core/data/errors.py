"""Errors a user can act on: each message says what is wrong and how to fix it."""


class DatasetError(ValueError):
    """A dataset name, split, size or option that cannot be served."""


class DatasetNotFound(DatasetError, FileNotFoundError):
    """A real dataset that is neither on disk nor downloadable from here."""
