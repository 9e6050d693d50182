"""Readable values on the run page: named inputs, whole values on demand, previews, compare."""

from __future__ import annotations

import json

import pytest

import durable
from durable import operations
from tests.dashboard.conftest import make_failed_run, make_run, make_step, wait_until_finished
from tests.engine import debug_workflows


@pytest.fixture
def failed_checkout(engine) -> str:
    handle = durable.start(debug_workflows.checkout, "o-v", run_id="val-1")
    assert wait_until_finished(handle.run_id) == "ERROR"
    return handle.run_id


def test_the_input_is_shown_with_its_parameter_names(viewer_client, failed_checkout):
    page = viewer_client.get(f"/runs/{failed_checkout}/").content.decode()
    named = page.split('id="named-input">')[1].split("</pre>")[0]
    assert json.loads(named.replace("&quot;", '"')) == {"order_id": "o-v"}
    steps = page.split('id="steps"')[1]
    assert "{&quot;order_id&quot;: &quot;o-v&quot;, &quot;amount&quot;: 120}" in steps


def test_a_large_value_is_fetched_whole_not_rendered_into_the_page(viewer_client, db):
    run = make_run(id="big-1")
    make_step(run, 0, output={"blob": "x" * 500_000})
    page = viewer_client.get("/runs/big-1/").content.decode()
    assert "/values/step-0-output/big-1" in page
    response = viewer_client.get("/values/step-0-output/big-1")
    assert response.json() == {"blob": "x" * 500_000}
    download = viewer_client.get("/values/step-0-output/big-1?download=1")
    assert download["Content-Disposition"] == 'attachment; filename="big-1-step-0-output.json"'


def test_an_unknown_value_is_a_404(viewer_client, db):
    make_run(id="r-1")
    assert viewer_client.get("/values/step-9-output/r-1").status_code == 404
    assert viewer_client.get("/values/secret/r-1").status_code == 404


def test_values_need_the_view_permission(stranger_client, db):
    make_run(id="r-1")
    assert stranger_client.get("/values/input/r-1").status_code == 403


def test_resume_and_restart_dialogs_preview_the_steps_that_run_again(owner_client, failed_checkout):
    page = owner_client.get(f"/runs/{failed_checkout}/").content.decode()
    charge = "tests.engine.debug_workflows.charge_payment"
    assert f"1 run will run {charge} again; it is not idempotent" in page
    assert "1 run will run tests.engine.debug_workflows.fetch_quote again; declared idempotent" in (
        page
    )
    risks = page.split('id="fork-risks"')[1].split("</p>")[0]
    assert "step 1 charge_payment (it is not idempotent)" in risks


def test_compare_with_the_last_success_shows_the_first_difference(viewer_client, failed_checkout):
    quote = {"order": "o-v", "amount": 80, "currency": "EUR"}
    fixed = operations.fork(failed_checkout, from_step=1, patch={0: quote})
    assert wait_until_finished(fixed) == "SUCCESS"
    run_page = viewer_client.get(f"/runs/{failed_checkout}/").content.decode()
    assert f'href="/compare/{failed_checkout}"' in run_page
    page = viewer_client.get(f"/compare/{failed_checkout}").content.decode()
    assert "First difference: step 0, output" in page and "$.amount" in page
    assert f"/runs/{fixed}/" in page


def test_compare_without_a_success_explains_what_to_do(viewer_client, db):
    make_failed_run(id="r-1")
    page = viewer_client.get("/compare/r-1").content.decode()
    assert "has no successful run to compare" in page


def test_compare_page_lists_every_differing_step(viewer_client, db):
    ok = make_run(id="cmp-page-ok", workflow="shop.order")
    bad = make_run(id="cmp-page-bad", workflow="shop.order", status="ERROR")
    for position in range(3):
        make_step(ok, position)
        make_step(bad, position, output={"ok": f"other {position}"} if position else {"ok": 0})
    page = viewer_client.get("/compare/cmp-page-bad").content.decode()
    assert "1 step with equal inputs and outputs, 2 differences" in page
    assert "First difference: step 1, output" in page and "step 2, output" in page


def test_a_patched_fork_shows_old_and_new_values_in_the_audit_and_on_the_run_page(
    viewer_client, failed_checkout
):
    quote = {"order": "o-v", "amount": 80, "currency": "EUR"}
    fixed = operations.fork(failed_checkout, patch={0: quote})
    wait_until_finished(fixed)
    for page in (f"/runs/{failed_checkout}/", "/audit/"):
        content = viewer_client.get(page).content.decode()
        assert "edited outputs" in content, page
        assert f'href="/values/step-0-output/{failed_checkout}"' in content, page
        assert f'href="/values/step-0-output/{fixed}"' in content, page
        assert "&quot;amount&quot;: 80" in content and "&quot;amount&quot;: 120" in content, page
