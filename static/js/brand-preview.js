// The branding preview takes its colours from data attributes (no inline styles: CSP), and follows the
// colour inputs as the manager picks them.
(function () {
  "use strict";
  function apply(preview, name, value) {
    if (/^#[0-9a-fA-F]{6}$/.test(value || "")) {
      preview.style.setProperty(name, value);
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var preview = document.querySelector(".brand-preview");
    if (!preview) {
      return;
    }
    apply(preview, "--brand-primary", preview.dataset.brandPrimary);
    apply(preview, "--brand-accent", preview.dataset.brandAccent);
    [["id_primary_color", "--brand-primary"], ["id_accent_color", "--brand-accent"]].forEach(function (pair) {
      var input = document.getElementById(pair[0]);
      if (input) {
        input.addEventListener("input", function () { apply(preview, pair[1], input.value); });
      }
    });
  });
})();
