"""A web process for the /health outage test: each line on stdin asks for `/health` once;
each answer is one JSON line (status, content type, seconds taken, body)."""

from __future__ import annotations

import json
import sys
import time

import django

if __name__ == "__main__":
    django.setup()
    from django.test import Client

    client = Client(raise_request_exception=False)
    for _ in sys.stdin:
        began = time.monotonic()
        response = client.get("/health")
        answer = {
            "status": response.status_code,
            "content_type": response.headers.get("Content-Type", ""),
            "seconds": time.monotonic() - began,
            "body": response.content.decode(errors="replace")[:2000],
        }
        print(json.dumps(answer), flush=True)
