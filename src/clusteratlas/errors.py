"""Exceptions users see. The CLI turns these into one clear line and a non-zero exit."""


class ClusterAtlasError(Exception):
    """Base of every error raised on purpose for bad input or bad configuration."""


class InputError(ClusterAtlasError):
    """An input file or frame cannot be used: unreadable, empty, wrong encoding, missing columns."""


class StoreError(ClusterAtlasError):
    """The Atlas store is missing, locked, or a load could not be committed."""
