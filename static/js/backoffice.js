/* Small behaviours of the back office (no inline scripts: the Content-Security-Policy forbids them). */
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#input-id" data-copied="Copied">Copy</button>
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    var label = button.textContent;
    var done = function () {
      button.textContent = button.getAttribute("data-copied") || label;
      window.setTimeout(function () { button.textContent = label; }, 2000);
    };
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // Navigation groups: one open at a time; a click elsewhere or Escape closes them.
  var groups = function () { return document.querySelectorAll("details[data-nav-group], details.user-menu"); };
  document.addEventListener("toggle", function (event) {
    var opened = event.target;
    if (!opened.open || !opened.matches || !opened.matches("details[data-nav-group], details.user-menu")) return;
    groups().forEach(function (other) { if (other !== opened) other.open = false; });
  }, true);
  document.addEventListener("click", function (event) {
    if (event.target.closest("details[data-nav-group], details.user-menu")) return;
    groups().forEach(function (group) { group.open = false; });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") groups().forEach(function (group) { group.open = false; });
  });

  // Fill a form from a choice: <button data-fill='{"id_email": "a@b.fr", "id_delivery_mode_0": "home"}'>
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-fill]");
    if (!button) return;
    var values;
    try { values = JSON.parse(button.getAttribute("data-fill")); } catch (e) { return; }
    var changed = null;
    Object.keys(values).forEach(function (id) {
      var field = document.getElementById(id);
      if (!field) return;
      if (field.type === "radio" || field.type === "checkbox") {
        field.checked = true;
      } else {
        field.value = values[id] == null ? "" : values[id];
      }
      changed = field;
    });
    if (changed) changed.dispatchEvent(new Event("change", { bubbles: true }));
    var results = button.closest(".lookup-results");
    if (results) {
      results.innerHTML = "";
      var note = document.createElement("p");
      note.className = "message message--success small";
      note.textContent = button.getAttribute("data-filled") || button.textContent;
      results.appendChild(note);
    }
  });
})();
