/* Small behaviours of every back-office page, bound by data attributes rather than inline handlers (the
   Content-Security-Policy allows scripts from our static files only: no onchange="...", no <script>).
   - data-autosubmit on a field: submit its form when the value changes (the language switch).
   - data-select-on-focus on an input: select its whole text when it takes the focus (a key shown once).
   - data-search-on-enter on a search input inside a bigger form (the relay-point picker): Enter searches
     (a "search" event, which its hx-trigger listens to) instead of submitting the whole form. htmx's
     keydown[key=='Enter'] filter would do the first half, but htmx evaluates filters as code, which the
     policy refuses (no 'unsafe-eval'). */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!field.closest || !field.closest("[data-autosubmit]") || !field.form) return;
    if (typeof field.form.requestSubmit === "function") field.form.requestSubmit();
    else field.form.submit();
  });
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-select-on-focus]") && typeof field.select === "function") {
      field.select();
    }
  });
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !field.matches || !field.matches("[data-search-on-enter]")) return;
    event.preventDefault();
    field.dispatchEvent(new Event("search", { bubbles: true }));
  });
  /* An autofocused field that is focused before this script runs gets selected too. */
  document.addEventListener("DOMContentLoaded", function () {
    var active = document.activeElement;
    if (active && active.matches && active.matches("[data-select-on-focus]")) active.select();
  });
})();
