"""The one family of errors dscr raises for a person to read and act on."""

from __future__ import annotations


class DscrError(Exception):
    """Base class: the message is shown to the user as it is, so it says what to do next."""


class ValidationError(DscrError, ValueError):
    """Input that breaks a rule: a score out of range, a malformed file, a bad date."""


class PermissionDenied(DscrError):
    """The acting account's role may never take this action."""


class NotFound(DscrError, LookupError):
    """No such record, or one outside the caller's scope (the same error, so nothing leaks)."""


class Conflict(DscrError):
    """The record changed since it was read, or the action clashes with its state."""


class ConfigurationError(DscrError):
    """The database URL, data directory or key file is missing or wrong."""


class StoreUnavailable(DscrError):
    """The database went away during a use case; nothing of that use case was saved."""
