"""The HTTP API for automation, mounted with the dashboard at `<mount>/api/`.

Built on django-ninja (docs/api.md says why). Everything an operator does in the dashboard,
as JSON, authenticated by per-user bearer tokens (`dashboard.tokens`); the OpenAPI schema is
at `api/openapi.json`, browsable docs at `api/docs`. Errors are JSON problems (RFC 9457).
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, reverse
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from dashboard.api import actions, bulk, problems, routes, runs, schedules, system, triage
from dashboard.api.auth import TokenAuth
from dashboard.api.parsing import StorableJsonParser


class DashboardApi(NinjaAPI):
    """Mounted inside the dashboard's URL namespace, so its root is found there; a path
    several routes match is answered by the one that serves the method, and a method none
    serves is a problem like any other error (`routes`: ninja answers Django's plain 405
    before any handler could)."""

    def get_root_path(self, path_params: dict[str, Any]) -> str:
        return reverse(f"dashboard:{self.urls_namespace}:api-root", kwargs=path_params)

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        """ninja documents every answer as its renderer's media type; problems are served as
        application/problem+json, and the schema says so."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        problems.document_media_type(schema)
        return schema

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        routes.share_paths([pattern for pattern in patterns if isinstance(pattern, URLPattern)])
        return patterns, app_name, namespace


api = DashboardApi(
    title="Durable API",
    version="1",
    description="Runs, operator actions, bulk jobs, schedules, queues, executors and the "
    "audit log. Authenticate with `Authorization: Bearer <token>` (dashboard → Tokens).",
    auth=TokenAuth(),
    parser=StorableJsonParser(),
    urls_namespace="dashboard_api",
    docs_url=None,  # served by dashboard.views.api_docs, with Swagger UI from the package
    openapi_url="/openapi.json",
)
problems.install(api)
for module in (actions, bulk, schedules, system, triage, runs):  # runs last: its ids hold "/"
    api.add_router("", module.router)
