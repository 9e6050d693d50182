"""API tokens: made, checked and revoked here, for the Tokens page, the CLI and the API.

A token reads `dur_<prefix>_<secret>`; only the SHA-256 digest of the whole text is stored.
The secret carries 256 random bits, so a fast hash is as safe as a slow one and keeps each
request's check to one index probe. The prefix is public: it names the token in lists and
in the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from dashboard.models import ApiToken, TokenScope
from dashboard.permissions import can_operate, can_view

LAST_USED_EVERY = timedelta(seconds=60)


class TokenError(Exception):
    """A token request that cannot be granted; the message says why and what to do."""


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(user, name: str, scope: str, expires_at: datetime | None = None) -> NewToken:
    """A new token for `user`; refused when the user lacks the scope's permission now."""
    if scope not in TokenScope.values:
        raise TokenError(f"scope must be 'view' or 'operate', not {scope!r:.40}")
    if scope == TokenScope.OPERATE and not can_operate(user):
        raise TokenError(f"{user.get_username()} lacks the 'operate runs' permission")
    if not can_view(user):
        raise TokenError(f"{user.get_username()} lacks the 'view runs' permission")
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise TokenError("name the token (1 to 100 printable characters), e.g. 'ci-bot'")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenError("the expiry must be in the future")
    prefix = f"dur_{secrets.token_hex(4)}"
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user, name=name, prefix=prefix, digest=digest(secret), scope=scope,
        expires_at=expires_at,
    )  # fmt: skip
    return NewToken(token, secret)


def find(secret: str) -> ApiToken | None:
    """The live token this secret belongs to (not revoked, not expired, active user)."""
    if not secret.startswith("dur_") or len(secret) > 200:
        return None
    now = timezone.now()
    return (
        ApiToken.objects.select_related("user")
        .filter(digest=digest(secret), revoked_at__isnull=True, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )


def why_refused(secret: str) -> str | None:
    """Why a token that exists does not authenticate (revoked, expired, its user made
    inactive), so its caller learns to make a new one; None for a secret that is no token."""
    if not secret.startswith("dur_") or len(secret) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(digest=digest(secret)).first()
    if token is None:
        return None
    if token.revoked_at is not None:
        why = f"was revoked at {token.revoked_at:%Y-%m-%d %H:%M} UTC"
    elif token.expires_at is not None and token.expires_at <= timezone.now():
        why = f"expired at {token.expires_at:%Y-%m-%d %H:%M} UTC"
    elif not token.user.is_active:
        why = "belongs to an account that is no longer active"
    else:
        return None
    return f"Token {token.prefix} {why}: make a new one on the Tokens page."


def touch(token: ApiToken) -> None:
    """Record use at most once a minute: a conditional write, not one per request."""
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
    ).update(last_used_at=now)


def listed(user=None) -> list[ApiToken]:
    """A user's tokens (everyone's when `user` is None), newest first."""
    found = ApiToken.objects.select_related("user").order_by("-created_at")
    return list(found.filter(user=user) if user is not None else found)


def revoke(user, prefix: str) -> bool:
    """Revoke one of `user`'s tokens (any user's when `user` is None); False if none."""
    tokens = ApiToken.objects.filter(prefix=prefix, revoked_at__isnull=True)
    if user is not None:
        tokens = tokens.filter(user=user)
    return tokens.update(revoked_at=timezone.now()) == 1


def user_named(username: str):
    """The user of this name, or a TokenError saying there is none."""
    User = get_user_model()
    try:
        return User.objects.get(**{User.USERNAME_FIELD: username})
    except User.DoesNotExist:
        raise TokenError(f"no user {username!r:.60}: create it first (createsuperuser)") from None
