"""Exceptions that carry a message meant for the person running ganlab.

The CLI turns any :class:`GanlabError` into one clear line on stderr and a non-zero exit code
instead of a traceback, so every message must name what is wrong (file, key, value, URL).
"""


class GanlabError(Exception):
    """Base class: an error caused by input or environment, explained in its message."""


class ParamsError(GanlabError, ValueError):
    """params.yaml holds an unknown key, a wrong type or an out-of-range value."""


class FetchError(GanlabError):
    """A dataset file could not be obtained (network, mirror, cache)."""


class ChecksumError(FetchError):
    """A file's bytes are not the ones its source promises."""


class DataFormatError(GanlabError):
    """A file is not in the format its reader expects (truncated, corrupt, wrong layout)."""


class UnsafeArchiveError(DataFormatError):
    """An archive member would land outside the extraction target, or is a link or device."""
