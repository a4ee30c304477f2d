"""What the rules of the ledger refuse, in the ledger's own words: no HTTP status here.

The web layer (service/errors.py) says which answer each kind of refusal gets.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the rules refuse; `extra` carries details for the answer (e.g. retry_after)."""

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra


class ValidationFailed(DomainError):
    """Fields that do not hold: each with the reason."""

    def __init__(self, errors: dict[str, str] | list[dict[str, str]], detail: str | None = None):
        if isinstance(errors, dict):
            errors = [{"field": k, "reason": v} for k, v in errors.items()]
        super().__init__(detail or "The request has invalid fields.", errors=errors)


class NotFound(DomainError):
    """No such record."""


class Forbidden(DomainError):
    """The caller's role or organisation does not allow it."""


class Conflict(DomainError):
    """It contradicts what is recorded (or what is being recorded right now)."""


class Busy(DomainError):
    """The same costly work is running already; try again shortly."""
