"""Exception types per area. Messages name the field and the fix; the CLI
prints them on one line and the server maps them to HTTP status codes."""


class LabError(Exception):
    """Base class: every error a person should read, not a traceback."""

    status = 400
    code = "lab_error"


class InputError(LabError):
    """A value the caller passed is malformed or out of range."""

    code = "invalid_input"


class NotFound(LabError):
    status = 404
    code = "not_found"


class Conflict(LabError):
    """The request clashes with stored state (reused invite code, taken handle)."""

    status = 409
    code = "conflict"


class AuthError(LabError):
    """Missing or unknown bearer token."""

    status = 401
    code = "unauthorized"


class Forbidden(LabError):
    """Authenticated, but not allowed (no access yet, other user's resource, region)."""

    status = 403
    code = "forbidden"


class ConsentError(Forbidden):
    """A cameo is used without its owner's current permission."""

    code = "consent_required"


class PolicyViolation(Forbidden):
    """A prompt was refused by the prompt policy; `reasons` explains why."""

    code = "policy_violation"

    def __init__(self, message: str, reasons: list[dict] | None = None):
        super().__init__(message)
        self.reasons = reasons or []


class LimitExceeded(LabError):
    status = 429
    code = "limit_exceeded"


class SchemaError(LabError):
    """The lab file was written by a newer (or unknown) version of the code."""

    status = 500
    code = "schema_mismatch"


class ServerBusy(LabError):
    """The DuckDB file is owned by another process (a running server)."""

    status = 503
    code = "lab_locked"


class ServerUnreachable(LabError):
    """The lab server did not answer (stopped, restarting, or another address): raised by the client only."""

    status = 503
    code = "server_unreachable"
