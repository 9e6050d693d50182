"""The Tokens page: a user makes a token (its secret shown once), sees when it was last
used, and revokes it; CSRF-protected forms; only their own tokens."""

from __future__ import annotations

from django.test import Client

from dashboard import tokens
from dashboard.models import ApiToken


def test_a_user_makes_a_token_and_sees_its_secret_once(owner_client, owner):
    page = owner_client.post("/actions/tokens/create/", {"name": "ci", "scope": "operate"})
    secret = page.context["secret"]
    assert secret in page.content.decode()
    assert tokens.find(secret).user == owner
    assert secret not in owner_client.get("/tokens/").content.decode()


def test_a_viewer_cannot_make_an_operate_token(viewer_client):
    page = viewer_client.post(
        "/actions/tokens/create/", {"name": "ci", "scope": "operate"}, follow=True
    )
    assert "lacks the &#x27;operate runs&#x27; permission" in page.content.decode()
    assert not ApiToken.objects.exists()


def test_a_user_revokes_their_token_but_not_anothers(owner_client, owner, viewer):
    mine = tokens.create(owner, "mine", "view")
    theirs = tokens.create(viewer, "theirs", "view")
    owner_client.post("/actions/tokens/revoke/", {"prefix": mine.token.prefix})
    owner_client.post("/actions/tokens/revoke/", {"prefix": theirs.token.prefix})
    assert tokens.find(mine.secret) is None
    assert tokens.find(theirs.secret) is not None
    assert theirs.token.prefix not in owner_client.get("/tokens/").content.decode()


def test_token_forms_need_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post("/actions/tokens/create/", {"name": "ci", "scope": "view"})
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_the_page_needs_a_login(client, db):
    assert client.get("/tokens/").status_code == 302
