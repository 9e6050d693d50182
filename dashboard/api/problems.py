"""Errors as JSON problems (RFC 9457): type, title, status, detail, and `errors` naming
each field that was wrong. No API answer is HTML, and none is a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from durable.errors import (
    DurableError,
    ExecutorNotFoundError,
    InvalidArgumentError,
    InvalidRunIdError,
    RunNotFoundError,
    ScheduleNotFoundError,
    SerializationError,
)

logger = logging.getLogger(__name__)
CONTENT_TYPE = "application/problem+json"
# every operation documents its problems under these codes
ERRORS = frozenset({400, 401, 403, 404, 409, 413, 429})


class FieldError(Schema):
    field: str
    message: str


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] = []


class ApiProblem(Exception):
    """Raised by an endpoint to answer with a problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.errors, self.headers = errors or [], headers or {}


def problem(
    status: int,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    title = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"about:blank#{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }
    response = JsonResponse(body, status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def document_media_type(schema: dict[str, Any]) -> None:
    """Every documented answer whose body is a Problem, as served: CONTENT_TYPE."""
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for methods in schema["paths"].values():
        for operation in methods.values():
            for answer in operation["responses"].values():
                content = answer.get("content", {})
                if list(content.values()) == [{"schema": problem_ref}]:
                    answer["content"] = {CONTENT_TYPE: {"schema": problem_ref}}


def form_errors(form) -> list[dict[str, str]]:
    """A Django form's errors as problem `errors` (a form-wide error names no field)."""
    return [
        {"field": "" if name == "__all__" else name, "message": str(message)}
        for name, messages in form.errors.items()
        for message in messages
    ]


def invalid_form(form) -> ApiProblem:
    """A 400 naming each field the dashboard's form refused, in the form's words."""
    errors = form_errors(form)
    detail = "; ".join(
        f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
    )
    return ApiProblem(400, detail, errors)


def _field(loc: list[Any]) -> str:
    parts = [str(part) for part in loc[1:]]
    if loc and loc[0] == "body" and len(parts) > 1:
        parts = parts[1:]  # the body parameter's own name says nothing to a caller
    return ".".join(parts)


def _validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"field": _field(list(e.get("loc", []))), "message": str(e.get("msg", ""))[:300]}
        for e in exc.errors
    ]
    return problem(400, "The request is not valid: see errors.", errors)


def _durable(request: HttpRequest, exc: DurableError) -> HttpResponse:
    """The engine's refusals, with its words; missing things are 404, bad arguments and
    values it cannot store 400, the rest (the state of runs and schedules) 409."""
    detail = f"Nothing changed: {exc}"
    if isinstance(exc, RunNotFoundError | ScheduleNotFoundError | ExecutorNotFoundError):
        return problem(404, detail)
    if isinstance(exc, SerializationError):  # the engine stores only what a request sent
        return problem(
            400, detail, [{"field": name, "message": str(exc)} for name in exc.arguments]
        )
    if isinstance(exc, InvalidArgumentError):
        return problem(400, detail, [{"field": exc.argument, "message": str(exc)}])
    if isinstance(exc, InvalidRunIdError):
        return problem(400, detail, [{"field": "run_id", "message": str(exc)}])
    return problem(409, detail)


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """ninja wraps whatever the body parser raises in a bare "Cannot parse request body"
    (its words only with DEBUG on); the parser's own problem says what was wrong."""
    cause = exc.__cause__
    if isinstance(cause, ApiProblem):
        return problem(cause.status, cause.detail, cause.errors, cause.headers)
    return problem(exc.status_code, str(exc))


def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    """Django refuses to read a body over its limit; ninja reads the body outside the
    parser, so this would otherwise be a 500."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return problem(
        413,
        f"The body is over {limit:,} bytes, the most this server reads "
        "(DATA_UPLOAD_MAX_MEMORY_SIZE): send less per request, e.g. split run_ids.",
    )


def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    return problem(500, "The server failed to answer; the error is in its log.")


def install(api: NinjaAPI) -> None:
    """Register the handlers that turn every error into a problem."""
    # Each handler takes its own exception class; the dict's value type says so (Any), where
    # inference from the first entry would claim every handler takes any Exception.
    handlers: dict[type[Exception], Callable[[HttpRequest, Any], HttpResponse]] = {
        ApiProblem: lambda r, e: problem(e.status, e.detail, e.errors, e.headers),
        ValidationError: _validation,
        AuthenticationError: lambda r, e: problem(
            401,
            "Send a token: Authorization: Bearer <token> (make one on the Tokens page).",
            headers={"WWW-Authenticate": "Bearer"},
        ),
        HttpError: _http_error,
        Http404: lambda r, e: problem(404, str(e) or "Not found."),
        RequestDataTooBig: _too_big,
        DurableError: _durable,
        Exception: _unexpected,
    }
    for exc_class, handler in handlers.items():
        api.add_exception_handler(exc_class, handler)
