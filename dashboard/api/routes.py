"""Which route answers a request. Django hands a path to the first route that matches it,
whatever the method; ninja then answers a method that route does not serve with a plain
405. Here a path that more than one route matches (a run id may spell `actions/preview`,
and `runs/{run_id}` comes after `runs/actions/preview`) goes on to the next route that
serves the method, and a method none serves is a 405 problem naming those they do."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern

from dashboard.api.problems import problem

View = Callable[..., HttpResponse]


def share_paths(patterns: list[URLPattern]) -> None:
    """Give each route the later routes its path also matches, for the methods it lacks."""
    later = {id(pattern): _shadowed(pattern, patterns[index + 1 :])
             for index, pattern in enumerate(patterns)}  # fmt: skip
    for pattern in patterns:
        pattern.callback = by_method(pattern.callback, later[id(pattern)])


def _shadowed(pattern: URLPattern, later: list[URLPattern]) -> list[tuple[View, dict[str, Any]]]:
    """The later routes that match a literal route's path, each with what it captures from
    it. (A route with parameters before `runs/{run_id}` would need its path per request;
    the API has none.)"""
    route = str(pattern.pattern)
    if "<" in route:
        return []
    found = []
    for other in later:
        match = other.resolve(route) if str(other.pattern) != route else None
        if match is not None:
            found.append((other.callback, match.kwargs))
    return found


def by_method(view: View, shadowed: list[tuple[View, dict[str, Any]]]) -> View:
    """`view`, handing a method it does not serve to the `shadowed` routes in turn; a method
    none serves is a 405 problem keeping the Allow header, not Django's plain-text 405."""

    @functools.wraps(view)  # keeps csrf_exempt: the API authenticates by token
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        calls = [functools.partial(view, request, *args, **kwargs)]
        calls += [functools.partial(other, request, **captured) for other, captured in shadowed]
        allowed: dict[str, None] = {}
        for call in calls:
            response = call()
            if not isinstance(response, HttpResponseNotAllowed):
                return response
            allowed.update(dict.fromkeys(response["Allow"].split(", ")))
        methods = ", ".join(allowed)
        detail = f"{request.method} is not allowed here; this path answers {methods}."
        return problem(405, detail, headers={"Allow": methods})

    return answer
