"""The audit log page (managers: ``common.view_auditentry``), read-only, linked from the settings."""

from django.shortcuts import render
from django.views import View

from .audit_display import audit_rows
from .forms import AuditFilterForm
from .selectors import audit_entries
from .views import BackofficeMixin

PAGE_SIZE = 50


class AuditLogView(BackofficeMixin, View):
    permission_required = "common.view_auditentry"
    template_name = "common/audit_log.html"

    def get(self, request):
        form = AuditFilterForm(request.GET or None)
        if form.is_bound:
            form.is_valid()  # errors are shown; the valid filters still apply
        filters = form.filters()
        before = form.cleaned_data.get("before") if form.is_bound else None
        entries, older = audit_entries(**filters, before_id=before, size=PAGE_SIZE)
        query = request.GET.copy()
        query.pop("before", None)
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "rows": audit_rows(entries),
                "older": older,
                "is_first_page": before is None,
                "query": query.urlencode(),
                "filtered": any(filters.values()),
            },
        )
