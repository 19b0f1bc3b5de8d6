"""The Content-Security-Policy middleware: django-csp's, on every response but PDF files.

Chrome shows a PDF inside a page of its own viewer, and a policy sent with the PDF applies to that page:
its inline styles and its plugin are refused (object-src 'none') and the document shows blank or cut.
Our PDFs (invoices, labels, pick lists, slips, manifests) are files, not pages that run our markup, so
they go without it; everything else, HTML first, carries the policy of settings.CONTENT_SECURITY_POLICY.
"""

from csp.middleware import CSPMiddleware


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("application/pdf"):
            response._csp_exempt = True
        return super().process_response(request, response)
