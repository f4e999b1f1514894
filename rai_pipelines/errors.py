"""User-facing errors: one line saying what was wrong, where, and what to do."""


class RaiError(Exception):
    """An error the user can fix; the CLI prints it as one line, no traceback."""

    exit_code = 1


class UsageError(RaiError):
    """Bad arguments: unknown system, unknown model version, bad flags."""

    exit_code = 2


class CatalogError(RaiError):
    """A catalog, suite, policy or profile file that does not validate."""


class DataError(RaiError):
    """Input data that cannot be evaluated (missing column, wrong dtype, empty)."""
