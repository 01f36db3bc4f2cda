"""The one exception type the CLI turns into a clean message and a non-zero exit."""


class UserError(Exception):
    """Bad input or environment that the user can fix: printed as a message, never as a traceback."""
