/* Scan screens (UI.md): a refusal (422, or 400) still swaps its red feedback card, and after every scan the
   focus goes back to the scan input: cleared after an accepted scan, selected after a refused one (so
   the next scan replaces it). Forms marked data-scan-form; the scan input has the class scan-input.
   When a swap replaces the whole panel (picking, packing), the new panel's scan input takes the focus. */
(function () {
  "use strict";
  function scanForm(elt) {
    return elt && elt.closest ? elt.closest("[data-scan-form]") : null;
  }
  function pageScanInput() {
    return document.querySelector("[data-scan-form] .scan-input");
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (scanForm(event.detail.requestConfig.elt) && (status === 422 || status === 400)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = scanForm(event.detail.elt);
    if (!form) return;
    var input = form.isConnected ? form.querySelector(".scan-input") : null;
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (!input) {
      input = pageScanInput();
      if (input) input.focus();
      return;
    }
    if (status >= 200 && status < 300) {
      form.querySelectorAll("[data-reset-after-scan]").forEach(function (field) {
        field.value = field.getAttribute("data-reset-after-scan");
      });
      input.value = "";
      input.focus();
    } else {
      input.focus();
      input.select();
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    var input = pageScanInput();
    if (input && input.hasAttribute("data-refocus")) {
      input.focus();
      if (input.value) input.select();
    }
  });
})();
