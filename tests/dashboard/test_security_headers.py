"""What every response tells the browser: a Content-Security-Policy without inline scripts,
pages that need none, and plotly.js served compressed."""

from __future__ import annotations

import gzip
import re

import plotly

from tests.dashboard.conftest import make_failed_run, make_run

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)


def test_every_page_carries_a_content_security_policy_without_inline_scripts(viewer_client, client):
    for response in (viewer_client.get("/"), client.get("/accounts/login/")):
        policy = response["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]*)", policy).group(1)
        assert script_src == "'self'" and "'unsafe-inline'" not in script_src
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_pages_with_charts_have_no_inline_script_for_the_policy_to_block(viewer_client):
    run = make_failed_run()
    make_run(status="SUCCESS")
    for url in (f"/runs/{run.id}/", "/latency/?window=24h"):
        content = viewer_client.get(url).content.decode()
        assert "plotly-figure-data" in content
        assert not INLINE_SCRIPT.search(content), INLINE_SCRIPT.search(content).group(0)


def test_a_figure_label_cannot_close_its_data_block(viewer_client):
    run = make_failed_run()
    run.steps.filter(position=1).update(name="x</script><script>alert(1)</script>")
    content = viewer_client.get(f"/runs/{run.id}/").content.decode()
    assert "<script>alert(1)" not in content


def test_plotly_js_is_served_gzipped_to_browsers_that_accept_it(client, db):
    url = f"/assets/plotly-{plotly.__version__}.min.js"
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert response["Content-Encoding"] == "gzip" and "Accept-Encoding" in response["Vary"]
    assert len(response.content) < 2_000_000
    assert gzip.decompress(response.content)[:2000].lower().count(b"plotly")
