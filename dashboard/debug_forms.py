"""Forms of the debugging pages: a patched output, a run to compare with."""

from __future__ import annotations

import json
from typing import Any

from django import forms


class PatchForm(forms.Form):
    """ "Edit output and continue": step `position`'s new output, as JSON text."""

    run_id = forms.CharField(max_length=200)
    position = forms.IntegerField(min_value=0)
    output = forms.CharField(widget=forms.Textarea, strip=False)

    def clean_output(self) -> Any:
        text = self.cleaned_data["output"]
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"The output is not valid JSON ({exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}); strings need double quotes."
            ) from exc


class CompareForm(forms.Form):
    other = forms.CharField(max_length=200, required=False)
