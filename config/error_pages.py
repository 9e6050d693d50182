"""The site's 400 page. Django refuses some requests before any view reads them; the page
says which limit the request broke and what to do, not only "Bad Request"."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponseBadRequest
from django.template import loader


def _why(exception: Exception | None) -> str:
    """Only the limits a user can act on are named; other refusals (a forged Host header,
    a broken multipart body) get the general words, never the server's settings."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return (
            f"The form was over {limit:,} bytes, the most this site reads "
            "(DATA_UPLOAD_MAX_MEMORY_SIZE). Send a smaller value, or use the command line "
            "or the HTTP API for large ones."
        )
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return (
            f"The form had more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields "
            "(DATA_UPLOAD_MAX_NUMBER_FIELDS). Select fewer runs at once, or act on a filter."
        )
    return "The request was malformed, so it was refused. Go back and try again."


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponseBadRequest:
    # rendered without the request: its body is what could not be read
    return HttpResponseBadRequest(loader.render_to_string("400.html", {"why": _why(exception)}))
