"""The API reference pages, served offline from drf-spectacular-sidecar under the Content-Security-Policy.

- Swagger UI (/api/v1/docs/, the documented one): drf-spectacular's split view serves its start-up script
  as a file (``?script``) instead of an inline ``<script>``; templates/api/swagger_ui.html takes the page
  rules from a stylesheet. It runs under the site's policy as it is.
- Redoc (/api/v1/redoc/) needs its own loosening, on its response only (scripts stay ours only; the page
  shows nothing but our schema):
  * its styled-components create ``<style>`` elements as it runs: they carry this response's nonce,
    handed to ``Redoc.init`` by static/js/redoc-init.js;
  * as it loads, before it can be told the nonce, its bundle inserts an empty ``<style>`` element and one
    with perfect-scrollbar's CSS: allowed by their hashes (if a new Redoc changes that CSS, the browser
    test tests/e2e/test_csp.py says so);
  * its search index runs in a Web Worker that it builds from a ``blob:`` URL;
  * it always shows Redocly's small logo from their CDN (offline the logo just does not show).
"""

from csp.constants import NONCE, SELF
from csp.decorators import csp_update
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

REDOC_EMPTY_STYLE_SHA256 = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
REDOC_PERFECT_SCROLLBAR_SHA256 = "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='"

REDOC_CSP = {
    "style-src": [NONCE, REDOC_EMPTY_STYLE_SHA256, REDOC_PERFECT_SCROLLBAR_SHA256],
    "worker-src": [SELF, "blob:"],
    "img-src": ["https://cdn.redoc.ly"],
}

swagger_view = SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html")
redoc_view = csp_update(REDOC_CSP)(
    SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
)
