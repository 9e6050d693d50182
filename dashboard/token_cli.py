"""`durable token create|list|revoke`: API tokens from the terminal, for any user (this
runs with the deployment's database credentials, like `createsuperuser`)."""

from __future__ import annotations

import argparse
from datetime import timedelta

from django.utils import timezone

from dashboard import tokens
from durable.errors import DurableError


class TokenCommandError(DurableError):
    """A token command that cannot be done; printed as the command's error."""


def add_token_arguments(parser: argparse.ArgumentParser) -> None:
    """API tokens: create (the secret is printed once), list, revoke."""
    actions = parser.add_subparsers(dest="token_action", required=True)
    create = actions.add_parser("create", help="make a token for a user; prints it once")
    create.add_argument("--user", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--scope", choices=["view", "operate"], default="view")
    create.add_argument("--expires-in-days", type=int, default=None)
    listing = actions.add_parser("list", help="a user's tokens (every user's without --user)")
    listing.add_argument("--user")
    revoke = actions.add_parser("revoke", help="revoke a token by its prefix (dur_…)")
    revoke.add_argument("prefix")


def handle_token(command, *, token_action: str, **options) -> None:
    try:
        {"create": _create, "list": _list, "revoke": _revoke}[token_action](command, options)
    except tokens.TokenError as exc:
        raise TokenCommandError(str(exc)) from exc


def _create(command, options: dict) -> None:
    days = options["expires_in_days"]
    if days is not None and not 0 < days <= 3650:
        raise tokens.TokenError("--expires-in-days must be between 1 and 3650")
    expires = timezone.now() + timedelta(days=days) if days else None
    made = tokens.create(
        tokens.user_named(options["user"]), options["name"], options["scope"], expires
    )
    command.stdout.write(made.secret)
    command.stderr.write(
        f"token {made.token.prefix} ({made.token.scope}) for "
        f"{options['user']}: shown once, store it now"
    )


def _list(command, options: dict) -> None:
    user = tokens.user_named(options["user"]) if options.get("user") else None
    for token in tokens.listed(user):
        state = "revoked" if token.revoked_at else "live"
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        expires = f"{token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else "never"
        command.stdout.write(
            f"{token.prefix}  {token.user.get_username()}  {token.name}  "
            f"{token.scope}  {state}  expires {expires}  last used {used}"
        )


def _revoke(command, options: dict) -> None:
    if not tokens.revoke(None, options["prefix"]):
        raise tokens.TokenError(f"no live token {options['prefix']!r:.40}; `durable token list`")
    command.stdout.write(f"revoked {options['prefix']}")
