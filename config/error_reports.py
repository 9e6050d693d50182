"""The DEBUG error page's filter: Django hides settings named like secrets (…PASS…, …KEY…);
this one also masks the password inside any URL it shows (CELERY_BROKER_URL, the
DATABASE_URL in the request's environment, a local variable holding a DSN)."""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host — the password is what lies between the first ":" after
# "//" and the last "@" before the host
URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<password>[^\s@]*)@", re.I)


def mask_url_passwords(text: str, substitute: str) -> str:
    return URL_PASSWORD.sub(lambda match: f"{match['head']}{substitute}@", text)


class UrlPasswordFilter(SafeExceptionReporterFilter):
    """Django's filter, plus URL passwords masked wherever a string is shown."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if type(cleansed) is str:  # not lazy objects that only look like strings
            return mask_url_passwords(cleansed, self.cleansed_substitute)
        return cleansed

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [
            (name, mask_url_passwords(value, self.cleansed_substitute))
            if type(value) is str
            else (name, value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
