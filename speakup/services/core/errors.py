"""Domain errors.  Each carries the HTTP status and the RFC 9457 problem type it maps to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ServiceError(Exception):
    status = 400
    type = "about:blank"
    title = "Bad request"

    def __init__(
        self, detail: str, *, errors: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = {key: list(value) for key, value in (errors or {}).items()}


class NotFound(ServiceError):
    """Unknown, or not visible to the caller: the two are never told apart."""

    status = 404
    type = "/problems/not-found"
    title = "Not found"


class Forbidden(ServiceError):
    status = 403
    type = "/problems/forbidden"
    title = "Forbidden"


class Unauthorized(ServiceError):
    status = 401
    type = "/problems/unauthorized"
    title = "Unauthorized"


class Conflict(ServiceError):
    status = 409
    type = "/problems/conflict"
    title = "Conflict"


class Invalid(ServiceError):
    """Well-formed input that breaks a rule (unknown unit, cycle, inactive category...)."""

    status = 422
    type = "/problems/validation"
    title = "Invalid input"

    @classmethod
    def field(cls, name: str, message: str) -> Invalid:
        return cls(message, errors={name: [message]})
