"""Django refuses some requests before any view reads them (a body over
DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields); the 400 page says which limit and what to
do, instead of Django's blank "Bad Request (400)"."""

from __future__ import annotations


def test_a_form_over_the_upload_limit_is_a_400_page_naming_the_limit(owner_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    owner_client.raise_request_exception = False
    response = owner_client.post(
        "/actions/fork/", {"run_id": "r-1", "from_step": "0", "input": "1" * 2_000, "reason": "x"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "1,000 bytes" in page and "DATA_UPLOAD_MAX_MEMORY_SIZE" in page


def test_a_form_with_too_many_fields_is_a_400_page_naming_the_limit(owner_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    owner_client.raise_request_exception = False
    response = owner_client.post("/actions/resume/", {f"f{i}": "1" for i in range(10)})
    assert response.status_code == 400
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in response.content.decode()


def test_another_bad_request_is_a_400_page_without_the_servers_settings(client, db):
    response = client.get("/", headers={"host": "evil.example"})
    assert response.status_code == 400
    assert "ALLOWED_HOSTS" not in response.content.decode()
