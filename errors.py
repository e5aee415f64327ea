"""The one family of errors dscr raises for a person to read and act on, and the messages they carry.

Every message has a stable `code`, an English `template` with named placeholders and the
`params` that fill it:

    raise ValidationError("assessment.item_range",
                          "item {item} of {instrument} must be {lo}..{hi}, got {value}",
                          item=7, instrument="GE-10", lo=1, hi=5, value=9)

`str(error)` is the English sentence (the CLI and the logs show it); the dashboard looks the code
up in its gettext catalogue (msgctxt = code, msgid = the English template) and fills the
translation with the same params. A param may itself be a `Message`, translated the same way.
"""

from __future__ import annotations

import re
import string
from typing import Any

CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_FORMATTER = string.Formatter()


def placeholders(template: str) -> set[str]:
    """The names a template fills: {"item", "lo"} for "item {item} must be {lo}..."."""
    return {name.split(".")[0].split("[")[0]
            for _, name, _, _ in _FORMATTER.parse(template) if name is not None}


def _fill(code: str, template: str, params: dict[str, Any]) -> str:
    if not CODE.match(code):
        raise ValueError(f"message code {code!r} is not of the form area.what (lower case)")
    missing = placeholders(template) - set(params)
    if missing:
        raise ValueError(f"message {code}: no value for {sorted(missing)}")
    return template.format(**params)


class Message:
    """A sentence for a person that is not an error: a warning on a model card, a note, a reason."""

    __slots__ = ("code", "template", "params")

    def __init__(self, code: str, template: str, /, **params: Any) -> None:
        _fill(code, template, params)  # refuses a bad code or a missing value at once
        self.code, self.template, self.params = code, template, params

    def __str__(self) -> str:
        return self.template.format(**self.params)

    def with_params(self, **changes: Any) -> Message:
        """The same sentence with some values replaced (a code shown by its label, say)."""
        return Message(self.code, self.template, **{**self.params, **changes})

    def __repr__(self) -> str:
        return f"Message({self.code!r}, {str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return (self.code, str(self)) == (other.code, str(other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.code, str(self)))


def joined(messages: list[Message] | tuple[Message, ...]) -> Message:
    """Several messages as one that reads "first; second; ...", each piece translated on its own."""
    out = messages[-1]
    for message in reversed(messages[:-1]):
        out = Message("errors.joined", "{first}; {rest}", first=message, rest=out)
    return out


class DscrError(Exception):
    """Base class: the message is shown to the user as it is, so it says what to do next."""

    def __init__(self, code: str, template: str, /, **params: Any) -> None:
        self.code, self.template, self.params = code, template, params
        super().__init__(_fill(code, template, params))

    @classmethod
    def of(cls, message: Message) -> DscrError:
        """The error that carries a message made earlier (a problem found before it is raised)."""
        return cls(message.code, message.template, **message.params)

    @property
    def message(self) -> Message:
        return Message(self.code, self.template, **self.params)


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
