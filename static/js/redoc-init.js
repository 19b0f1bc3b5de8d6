/* Starts Redoc on /api/v1/redoc/ (templates/api/redoc.html) from a file rather than an inline script.
   Redoc's styled-components create <style> elements while it runs: they carry the page's CSP nonce,
   handed over by this script's own nonce attribute. */
(function () {
  "use strict";
  var script = document.currentScript;
  Redoc.init(
    script.getAttribute("data-spec-url"),
    { nonce: script.nonce },
    document.getElementById("redoc-container")
  );
})();
