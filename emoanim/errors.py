"""User-facing errors: one clear line that says what is wrong and what to do."""


class EmoAnimError(Exception):
    """An error caused by user input or environment, reported without a traceback."""


class NoSpaceError(EmoAnimError):
    """The disk (or quota) is full: a file could not be written. Nothing partial is left behind."""
