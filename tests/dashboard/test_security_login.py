"""Accounts: the demo never touches real ones, and guessing passwords is throttled."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from durable.management.cli.worker import DEMO_PASSWORD, DEMO_USER, _ensure_demo_admin


def test_demo_creates_its_admin_on_a_database_with_no_users(db):
    assert _ensure_demo_admin() is True
    user = User.objects.get(username=DEMO_USER)
    assert user.is_superuser and user.check_password(DEMO_PASSWORD)


def test_demo_never_repasswords_or_promotes_an_existing_admin_account(db):
    User.objects.create_user(DEMO_USER, password="a-real-secret")
    assert _ensure_demo_admin() is False
    user = User.objects.get(username=DEMO_USER)
    assert user.check_password("a-real-secret") and not user.is_superuser and not user.is_staff


def test_demo_adds_no_account_to_a_database_that_has_users(db):
    User.objects.create_user("alice", password="alices-secret")
    assert _ensure_demo_admin() is False
    assert not User.objects.filter(username=DEMO_USER).exists()


def test_a_second_demo_start_keeps_the_demo_admin_as_it_is(db):
    _ensure_demo_admin()
    user = User.objects.get(username=DEMO_USER)
    user.set_password("changed-by-its-owner")
    user.save()
    assert _ensure_demo_admin() is False
    assert User.objects.get(username=DEMO_USER).check_password("changed-by-its-owner")


def test_sixty_wrong_passwords_in_a_row_are_not_all_answered(db):
    User.objects.create_user("victim", password="correct horse battery staple")
    client = Client()
    statuses = [
        client.post(
            "/accounts/login/", {"username": "victim", "password": f"guess-{n}"}
        ).status_code
        for n in range(60)
    ]
    assert statuses.count(200) <= 10  # each 200 is "wrong password, try again"
    assert statuses[-1] == 429
    right = client.post(
        "/accounts/login/", {"username": "victim", "password": "correct horse battery staple"}
    )
    assert right.status_code == 429  # locked out: even the right password waits


@pytest.mark.slow  # 5 s of wrong passwords; the fast tier keeps the dashboard's own throttle test
def test_the_admin_login_is_throttled_too(db):
    client = Client()
    statuses = [
        client.post("/admin/login/", {"username": "root", "password": f"guess-{n}"}).status_code
        for n in range(20)
    ]
    assert statuses[-1] == 429


def test_a_user_name_longer_than_the_throttle_stores_is_a_wrong_password_not_a_500(db):
    client = Client(raise_request_exception=False)
    answer = client.post("/accounts/login/", {"username": "9" * 3000, "password": "x"})
    assert answer.status_code == 200
