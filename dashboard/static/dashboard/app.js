// Durable dashboard behaviour: confirmation dialogs, live JSON validation, row selection.
// Event delegation on document, so content swapped in by htmx works without rebinding.
(function () {
  "use strict";

  function openDialog(button) {
    var dialog = document.getElementById(button.dataset.dialog);
    if (!dialog) return;
    if (button.dataset.step !== undefined) {
      dialog.querySelector("[name=from_step]").value = button.dataset.step;
      dialog.querySelectorAll("[data-step-label]").forEach(function (el) {
        el.textContent = button.dataset.stepLabel;
      });
      dialog.querySelectorAll("[data-step-number]").forEach(function (el) {
        el.textContent = button.dataset.step;
      });
      dialog.querySelectorAll("[data-reused]").forEach(function (el) {
        var step = parseInt(button.dataset.step, 10);
        el.textContent = step === 0 ? "No checkpoints are reused: every step runs again."
          : step === 1 ? "Checkpoint 0 is copied and not re-executed."
          : "Checkpoints 0–" + (step - 1) + " are copied and not re-executed.";
      });
    }
    dialog.showModal();
  }

  function validateJson(textarea) {
    var error = "";
    var text = textarea.value.trim();
    if (text) {
      try {
        var value = JSON.parse(text);
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
          error = 'Write an object like {"args": [...], "kwargs": {...}}.';
        } else if ("args" in value && !Array.isArray(value.args)) {
          error = '"args" must be a list.';
        } else if ("kwargs" in value && (typeof value.kwargs !== "object" || Array.isArray(value.kwargs) || value.kwargs === null)) {
          error = '"kwargs" must be an object.';
        }
      } catch (e) {
        error = "Not valid JSON: " + e.message;
      }
    }
    var form = textarea.form;
    form.querySelector("[data-json-error]").textContent = error;
    form.querySelector("[type=submit]").disabled = !!error;
    return !error;
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) { event.preventDefault(); openDialog(opener); return; }
    var closer = event.target.closest("[data-close]");
    if (closer) { event.preventDefault(); closer.closest("dialog").close(); }
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches("textarea[data-json]")) validateJson(event.target);
  });

  document.addEventListener("submit", function (event) {
    var textarea = event.target.querySelector("textarea[data-json]");
    if (textarea && !validateJson(textarea)) event.preventDefault();
  });

  // Charts arrive as JSON data blocks (no inline scripts: the CSP forbids them).
  function drawFigures(root) {
    if (typeof Plotly === "undefined") return;
    root.querySelectorAll(".plotly-figure:not([data-drawn])").forEach(function (box) {
      var spec = JSON.parse(box.querySelector(".plotly-figure-data").textContent);
      box.dataset.drawn = "1";
      var target = document.createElement("div");
      box.appendChild(target);
      Plotly.newPlot(target, spec.data, spec.layout, spec.config);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawFigures(document); });
  document.addEventListener("htmx:load", function (event) { drawFigures(event.detail.elt); });

  document.addEventListener("change", function (event) {
    var target = event.target;
    // a select that applies itself (no inline onchange: the CSP forbids inline handlers)
    if (target.matches("[data-autosubmit]") && target.form) {
      target.form.submit();
      return;
    }
    if (target.matches("[data-select-all]")) {
      document.querySelectorAll(".run-select").forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches(".run-select, [data-select-all]")) {
      var n = document.querySelectorAll(".run-select:checked").length;
      document.querySelectorAll("[data-selected-count]").forEach(function (el) { el.textContent = n; });
    }
  });

  // Live panels poll with a plain `every Ns` trigger; htmx's [condition] filters need eval,
  // which the CSP forbids, so the conditions live here: a poll waits while a dialog is open,
  // while rows are selected, or while the tab is hidden.
  function pollPaused(elt) {
    if (elt.hasAttribute("data-pause-while-dialog") && document.querySelector("dialog[open]")) return true;
    if (elt.hasAttribute("data-pause-while-selected") && document.querySelector(".run-select:checked")) return true;
    if (elt.hasAttribute("data-pause-while-hidden") && document.visibilityState !== "visible") return true;
    return false;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.matches && elt.matches("[data-live]") && pollPaused(elt)) event.preventDefault();
  });

  // "Go back" links without javascript: URLs (the CSP forbids them); the href is the fallback
  document.addEventListener("click", function (event) {
    var back = event.target.closest("a[data-back]");
    if (back && window.history.length > 1) { event.preventDefault(); window.history.back(); }
  });
})();
