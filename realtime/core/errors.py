"""The one exception type the CLI turns into a clean message and a non-zero exit."""


class UserError(Exception):
    """Bad input or environment that the user can fix: printed as a message, never as a traceback."""


def not_a_file(path, kind: str) -> UserError:
    """The error for an input ``path`` that is not a regular file: missing, or a folder, device or pipe."""
    from pathlib import Path

    if Path(path).exists():
        return UserError(f"{path}: a folder, device or pipe, not a regular file ({kind} expected)")
    return UserError(f"{path}: no such {kind} file")
