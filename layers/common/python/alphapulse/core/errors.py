"""The domain's exception hierarchy. `alphapulse.web.app` maps it to HTTP in one place."""

from __future__ import annotations


class AppError(Exception):
    """Base of every error that has a meaning for the caller."""

    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def headers(self) -> dict[str, str]:
        """Extra response headers that belong to this error."""
        return {}


class BadRequestError(AppError):
    status_code = 400


class AuthenticationError(AppError):
    """Missing, invalid or expired credentials."""

    status_code = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class PermissionDeniedError(AppError):
    status_code = 403


class NotFoundError(AppError):
    status_code = 404


class ConflictError(AppError):
    status_code = 409


class InvalidQueryError(AppError):
    """A query parameter that parsed but makes no sense (a window too long, a start after the end): a 422 in
    FastAPI's validation-error shape, naming the parameter."""

    status_code = 422

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(detail)
        self.parameter = parameter


class PayloadTooLargeError(AppError):
    status_code = 413


class UnsupportedMediaTypeError(AppError):
    status_code = 415


class ThrottledError(AppError):
    """Too many attempts; the caller may retry after `retry_after` seconds."""

    status_code = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class DataAccessError(AppError):
    """A storage call failed for a reason that is not the caller's fault."""

    status_code = 503
