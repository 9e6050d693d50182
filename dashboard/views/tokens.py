"""The Tokens page: a user's API tokens, made (the secret shown once) and revoked here.
POST + CSRF for both; a user sees and revokes only their own tokens."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from dashboard import tokens
from dashboard.forms import UtcDateTimeField
from dashboard.models import TokenScope
from dashboard.permissions import viewer_required
from dashboard.views.common import render_page


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
    scope = forms.ChoiceField(choices=TokenScope.choices)
    expires_at = UtcDateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class RevokeForm(forms.Form):
    prefix = forms.CharField(max_length=16)


@viewer_required
def tokens_page(
    request: HttpRequest, form: TokenForm | None = None, secret: str = ""
) -> HttpResponse:
    context = {"tokens": tokens.listed(request.user), "form": form or TokenForm(),
               "secret": secret, "section": "tokens"}  # fmt: skip
    return render_page(request, "dashboard/tokens.html", context)


@require_POST
@viewer_required
def create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        return tokens_page(request, form)
    data = form.cleaned_data
    try:
        made = tokens.create(request.user, data["name"], data["scope"], data["expires_at"])
    except tokens.TokenError as exc:
        messages.error(request, f"No token made: {exc}.")
        return redirect("dashboard:tokens")
    messages.success(
        request, f"Token {made.token.prefix} made: copy it now, it is not shown again."
    )
    return tokens_page(request, secret=made.secret)


@require_POST
@viewer_required
def revoke(request: HttpRequest) -> HttpResponse:
    form = RevokeForm(request.POST)
    if form.is_valid() and tokens.revoke(request.user, form.cleaned_data["prefix"]):
        messages.success(request, f"Token {form.cleaned_data['prefix']} revoked.")
    else:
        messages.error(request, "No such live token of yours.")
    return redirect("dashboard:tokens")
