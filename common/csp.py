"""The Content-Security-Policy middleware: django-csp's, on every response but PDF files.

Chrome shows a PDF inside a page of its own viewer, and a policy sent with the PDF applies to that page:
its inline styles and its plugin are refused (object-src 'none') and the document shows blank or cut.
Our PDFs (invoices, labels, pick lists, slips, manifests) are files, not pages that run our markup, so
they go without it; everything else, HTML first, carries the policy of settings.CONTENT_SECURITY_POLICY.

A response whose page used no nonce and whose view changed nothing of the policy (``@csp_update`` and the
like) gets the policy of the settings alone: it is built once per process (django-csp builds it again for
every response, ~0.2 ms of CPU: a tenth of a webhook's accept path) and built again when a test changes
the settings.
"""

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_OVERRIDES = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
_built: dict[str, tuple[str, str]] = {}


@receiver(setting_changed, dispatch_uid="common.csp.settings_changed")
def _settings_changed(*, setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY") or setting == "DEBUG":
        _built.clear()


def _settings_policies() -> tuple[str, str]:
    """The policy and the report-only policy of the settings alone, built once."""
    policies = _built.get("settings")
    if policies is None:
        policies = _built["settings"] = (build_policy(), build_policy(report_only=True))
    return policies


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("application/pdf"):
            response._csp_exempt = True
        if getattr(request, "_csp_nonce", None) is not None or any(hasattr(response, a) for a in _OVERRIDES):
            return super().process_response(request, response)
        # What django-csp's process_response does, with the policies of the settings built once.
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        policy, report_only = _settings_policies()
        for header, value, exempt, setting in (
            (HEADER, policy, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (HEADER_REPORT_ONLY, report_only, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            if not value or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = value
        # As django-csp: a nonce asked for after the header is written is an error, not a silent no-op.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
