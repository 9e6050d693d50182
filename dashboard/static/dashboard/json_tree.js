// Recorded values on the run page: "open whole" fetches the value (never rendered into the
// page up front) and shows it as a collapsible tree; "copy" puts its JSON on the clipboard.
(function () {
  "use strict";

  function node(key, value, depth) {
    var label = key === null ? "" : key + ": ";
    if (value === null || typeof value !== "object") {
      var leaf = document.createElement("div");
      leaf.className = "json-leaf";
      leaf.textContent = label + JSON.stringify(value);
      return leaf;
    }
    var entries = Array.isArray(value) ? value.map(function (v, i) { return [i, v]; })
                                       : Object.keys(value).map(function (k) { return [k, value[k]]; });
    var details = document.createElement("details");
    details.open = depth < 2;
    var summary = document.createElement("summary");
    summary.textContent = label + (Array.isArray(value) ? "[" + entries.length + "]" : "{" + entries.length + "}");
    details.appendChild(summary);
    entries.forEach(function (entry) { details.appendChild(node(entry[0], entry[1], depth + 1)); });
    return details;
  }

  function fetchValue(tools) {
    return fetch(tools.dataset.valueUrl, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    });
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-tree]");
    var copier = event.target.closest("[data-copy-value]");
    var tools = event.target.closest(".value-tools");
    if (!tools || !(opener || copier)) return;
    var tree = tools.querySelector("[data-tree]");
    if (opener && !tree.hidden) {
      tree.hidden = true;
      opener.textContent = "open whole";
      return;
    }
    fetchValue(tools).then(function (text) {
      if (copier) {
        navigator.clipboard.writeText(text).then(function () { copier.textContent = "copied"; });
        return;
      }
      tree.replaceChildren(node(null, JSON.parse(text), 0));
      tree.hidden = false;
      opener.textContent = "close";
    }).catch(function (error) { (opener || copier).textContent = "failed: " + error.message; });
  });
})();
