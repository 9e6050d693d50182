"""What the tests change to run fast stays in the tests: the site keeps its slow hasher."""

from __future__ import annotations

import time

from django.contrib.auth.hashers import make_password

import config.settings


def test_test_users_passwords_hash_in_a_blink():
    began = time.monotonic()
    hashed = make_password("pw")
    assert time.monotonic() - began < 0.05
    assert hashed.startswith("md5$")


def test_the_site_itself_keeps_djangos_slow_password_hashers():
    assert "MD5" not in str(getattr(config.settings, "PASSWORD_HASHERS", "PBKDF2"))
