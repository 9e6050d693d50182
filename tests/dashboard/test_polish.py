"""Polish seen on screen: words, favicon, the 403 page, status bars, plotly served compressed."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders

from tests.dashboard.conftest import make_failed_run, make_run

pytestmark = pytest.mark.django_db


def test_one_recorded_step_reads_as_singular(owner_client):
    run = make_run(id="one", status="ERROR")
    from tests.dashboard.conftest import make_step

    make_step(run, 0)
    assert (
        "the 1 recorded step is not executed again"
        in owner_client.get("/runs/one/").content.decode()
    )


def test_pages_link_a_favicon_that_exists(viewer_client):
    assert (
        'rel="icon" href="/static/dashboard/favicon.svg"' in viewer_client.get("/").content.decode()
    )
    assert finders.find("dashboard/favicon.svg")


def test_the_403_page_offers_log_out_not_a_link_back_to_itself(stranger_client):
    page = stranger_client.get("/").content.decode()
    assert 'id="log-out"' in page and 'href="/"' not in page


def test_an_empty_status_has_a_grey_bar_not_a_black_one(viewer_client):
    make_run()
    assert "status-dead zero" in viewer_client.get("/").content.decode()


def test_the_lineage_panel_of_a_fork_names_its_origin(viewer_client):
    origin = make_failed_run(id="origin")
    make_run(id="fork", forked_from=origin, forked_from_step=1)
    panel = viewer_client.get("/runs/fork/").content.decode().split('id="lineage"')[1]
    assert "/runs/origin/" in panel.split("</div>")[0] and "step 0 inherited" in panel


def test_plotly_is_a_static_file_a_compressing_storage_can_serve(viewer_client):
    assert finders.find("dashboard/vendor/plotly.min.js")
    make_failed_run(id="r")
    assert (
        '<script src="/static/dashboard/vendor/plotly.min.js">'
        in viewer_client.get("/runs/r/").content.decode()
    )
