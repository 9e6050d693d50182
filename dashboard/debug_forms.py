"""Forms of the debugging pages: a patched output, a run to compare with."""

from __future__ import annotations

from typing import Any

from django import forms

from dashboard import json_text
from dashboard.forms import RunIdField, UtcDateTimeField


class PatchForm(forms.Form):
    """ "Edit output and continue": step `position`'s new output, as JSON text."""

    run_id = RunIdField()
    position = forms.IntegerField(min_value=0)
    output = forms.CharField(widget=forms.Textarea, strip=False)
    seen = UtcDateTimeField(required=False)  # when the page was loaded: a repeat is one fork

    def clean_output(self) -> Any:
        return json_text.parse(self.cleaned_data["output"], "The output")


class CompareForm(forms.Form):
    other = forms.CharField(max_length=200, required=False)
