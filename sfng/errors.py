"""Exceptions shared across sfng. The CLI turns an :class:`SfngError` into a clear message and exit 1."""


class SfngError(Exception):
    """A user-facing error: its message is printed as is, without a traceback."""

    exit_code = 1


class NotAStoreError(SfngError):
    """No store was found from the current folder, ``--store`` or ``$SFNG_STORE``."""


class ReadmeError(SfngError):
    """A survey README metadata line could not be read.

    Attributes
    ----------
    path : str
        The README file.
    line : int
        1-based line number (0 when the problem concerns the whole file).
    text : str
        The offending text.
    reason : str
        What is wrong with it.
    """

    def __init__(self, path, line, text, reason):
        self.path, self.line, self.text, self.reason = str(path), line, text, reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}" + (f": {text!r}" if text else ""))
