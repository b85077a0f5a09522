"""The one exception type users see: the CLI prints its message and exits non-zero, no traceback."""


class RganError(Exception):
    """A problem with the user's params, data or files, explained in the message."""
