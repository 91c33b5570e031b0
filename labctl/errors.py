"""One exception type whose message tells the user what to do."""


class LabError(Exception):
    """A failure the user can fix; str() is the message shown (no traceback)."""
