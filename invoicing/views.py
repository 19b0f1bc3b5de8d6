"""Pages of the invoicing app: the documents (list, detail, files, sending, credit notes), the accountant's
export with its progress bar, the invoicing settings, and the customer's portal fragment."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from common.exceptions import DomainError
from common.views import BackofficeMixin
from orders.models import Channel
from orders.selectors import order_get_for_user

from .forms import (
    ChannelBillingForm,
    CreditNoteForm,
    DocumentFilterForm,
    ExportForm,
    LegalEntityForm,
    SendForm,
)
from .models import ChannelBilling, DocumentKind, DocumentStatus, Invoice, InvoiceExport, LegalEntity
from .selectors import (
    document_get,
    document_list,
    documents_for_customer,
    documents_for_order,
    documents_for_token,
)
from .services.delivery import delivery_request
from .services.entities import channel_billing_save, legal_entity_save
from .services.exports import export_request
from .services.issue import credit_note_issue, credited_quantities

PAGE_SIZE = 50


def _document_or_404(pk: int) -> Invoice:
    document = document_get(pk=pk)
    if document is None:
        raise Http404(_("No such document."))
    return document


def _page_links(page) -> list[int | None]:
    last = page.paginator.num_pages
    numbers = sorted(n for n in {1, last, *range(page.number - 2, page.number + 3)} if 1 <= n <= last)
    links: list[int | None] = []
    for n in numbers:
        if links and n - links[-1] > 1:
            links.append(None)
        links.append(n)
    return links


# --- Documents ----------------------------------------------------------------------------------------------


class DocumentListView(BackofficeMixin, View):
    permission_required = "invoicing.view_invoice"

    def get(self, request):
        form = DocumentFilterForm(request.GET or None, channels=Channel.objects.order_by("name"))
        form.is_valid()
        paginator = Paginator(document_list(filters=form.filters()), PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "form": form,
            "page": page,
            "documents": page.object_list,
            "paginator": paginator,
            "page_links": _page_links(page),
            "query": query.urlencode(),
        }
        if request.htmx and request.htmx.target == "document-results":
            return render(request, "invoicing/_document_results.html", context)
        return render(request, "invoicing/document_list.html", context)


class DocumentDetailView(BackofficeMixin, View):
    permission_required = "invoicing.view_invoice"

    def get(self, request, pk):
        document = _document_or_404(pk)
        credited = credited_quantities(invoice_id=document.pk) if not document.is_credit_note else {}
        can_credit = (
            not document.is_credit_note
            and request.user.has_perm("invoicing.issue_credit_note")
            and any(line.quantity > credited.get(line.pk, 0) for line in document.lines.all())
        )
        return render(
            request,
            "invoicing/document_detail.html",
            {
                "doc": document,
                "lines": document.lines.all(),
                "credit_notes": document.credit_notes.order_by("issue_date", "id"),
                "deliveries": document.deliveries.all()[:20],
                "can_credit": can_credit,
                "can_send": request.user.has_perm("invoicing.send_invoice") and bool(document.pdf),
                "can_render": request.user.has_perm("invoicing.send_invoice")
                and document.status in (DocumentStatus.FAILED, DocumentStatus.PENDING),
            },
        )

    def post(self, request, pk):
        """Render again a document whose rendering failed (or is stuck)."""
        if not request.user.has_perm("invoicing.send_invoice"):
            raise PermissionDenied
        document = _document_or_404(pk)
        from .tasks import render_document as render_document_task

        transaction.on_commit(lambda: render_document_task.delay(document.pk), robust=True)
        messages.info(
            request, _("The PDF of %(number)s is being rendered again.") % {"number": document.number}
        )
        return redirect("invoicing:document_detail", pk=document.pk)


class DocumentFileView(BackofficeMixin, View):
    permission_required = "invoicing.view_invoice"

    def get(self, request, pk, fmt):
        if fmt not in ("pdf", "xml"):
            raise Http404(_("No such file."))
        document = get_object_or_404(Invoice, pk=pk)
        field = document.pdf if fmt == "pdf" else document.xml
        if not field:
            raise Http404(_("This document is not rendered yet."))
        filename = document.filename if fmt == "pdf" else f"{document.number}-factur-x.xml"
        return FileResponse(field.open("rb"), as_attachment=True, filename=filename)


class DocumentSendView(BackofficeMixin, View):
    permission_required = "invoicing.send_invoice"
    template_name = "invoicing/document_send.html"

    def get(self, request, pk):
        document = _document_or_404(pk)
        form = SendForm(initial={"email": document.buyer_email})
        return render(request, self.template_name, {"doc": document, "form": form})

    def post(self, request, pk):
        document = _document_or_404(pk)
        form = SendForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    delivery_request(document=document, email=form.cleaned_data["email"], actor=request.user)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    _("%(number)s will be emailed to %(email)s in a moment.")
                    % {"number": document.number, "email": form.cleaned_data["email"]},
                )
                return redirect("invoicing:document_detail", pk=document.pk)
        return render(request, self.template_name, {"doc": document, "form": form}, status=400)


class CreditNoteCreateView(BackofficeMixin, View):
    permission_required = "invoicing.issue_credit_note"
    template_name = "invoicing/credit_note_form.html"

    def _form(self, document, data=None):
        lines = list(document.lines.all())
        return CreditNoteForm(data, lines=lines, credited=credited_quantities(invoice_id=document.pk))

    def get(self, request, pk):
        document = _document_or_404(pk)
        if document.kind != DocumentKind.INVOICE:
            raise Http404(_("Only an invoice can be credited."))
        form = self._form(document)
        if request.GET.get("all"):
            for _line, left, name in form.lines:
                form.initial[name] = left
        return render(request, self.template_name, {"doc": document, "form": form})

    def post(self, request, pk):
        document = _document_or_404(pk)
        if document.kind != DocumentKind.INVOICE:
            raise Http404(_("Only an invoice can be credited."))
        form = self._form(document, request.POST)
        if form.is_valid():
            try:
                with transaction.atomic(durable=True):
                    note = credit_note_issue(
                        invoice=document,
                        quantities=form.quantities(),
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                    )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    _("Credit note %(number)s issued for %(amount)s EUR incl. VAT.")
                    % {"number": note.number, "amount": note.total_incl_vat},
                )
                return redirect("invoicing:document_detail", pk=note.pk)
        return render(request, self.template_name, {"doc": document, "form": form}, status=400)


# --- Export for the accountant ------------------------------------------------------------------------------


class ExportCreateView(BackofficeMixin, View):
    permission_required = "invoicing.export_invoices"
    template_name = "invoicing/export_form.html"

    def _context(self, form):
        return {"form": form, "exports": InvoiceExport.objects.select_related("channel", "legal_entity")[:10]}

    def get(self, request):
        return render(
            request, self.template_name, self._context(ExportForm(channels=Channel.objects.order_by("name")))
        )

    def post(self, request):
        form = ExportForm(request.POST, channels=Channel.objects.order_by("name"))
        if not form.is_valid():
            return render(request, self.template_name, self._context(form), status=400)
        with transaction.atomic():
            export = export_request(
                date_from=form.cleaned_data["date_from"],
                date_to=form.cleaned_data["date_to"],
                channel=form.cleaned_data["channel"],
                legal_entity=form.cleaned_data["legal_entity"],
                actor=request.user,
            )
        return redirect("invoicing:export_detail", pk=export.pk)


class ExportDetailView(BackofficeMixin, View):
    permission_required = "invoicing.export_invoices"

    def get(self, request, pk):
        export = get_object_or_404(InvoiceExport.objects.select_related("channel", "legal_entity"), pk=pk)
        template = "invoicing/_export_progress.html" if request.htmx else "invoicing/export_detail.html"
        return render(request, template, {"export": export})


class ExportDownloadView(BackofficeMixin, View):
    permission_required = "invoicing.export_invoices"

    def get(self, request, pk, fmt):
        export = get_object_or_404(InvoiceExport, pk=pk, status=InvoiceExport.Status.DONE)
        field = {"csv": export.csv, "xlsx": export.xlsx, "zip": export.zip}.get(fmt)
        if not field:
            raise Http404(_("This file is not ready."))
        name = f"invoices-{export.date_from:%Y%m%d}-{export.date_to:%Y%m%d}.{fmt}"
        return FileResponse(field.open("rb"), as_attachment=True, filename=name)


# --- Settings ----------------------------------------------------------------------------------------------


class InvoicingSettingsView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"
    template_name = "invoicing/settings.html"

    def _form(self, data=None):
        billing = {b.channel_id: b for b in ChannelBilling.objects.all()}
        return ChannelBillingForm(data, channels=Channel.objects.order_by("name"), billing=billing)

    def _render(self, request, form, status=200):
        return render(
            request,
            self.template_name,
            {"entities": LegalEntity.objects.all(), "form": form},
            status=status,
        )

    def get(self, request):
        return self._render(request, self._form())

    def post(self, request):
        form = self._form(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        with transaction.atomic():
            for channel, entity_field, policy_field in form.rows():
                channel_billing_save(
                    channel=channel,
                    legal_entity=form.cleaned_data[entity_field.name],
                    issue_policy=form.cleaned_data[policy_field.name],
                )
        messages.success(request, _("The channels' invoicing settings are saved."))
        return redirect("invoicing:settings")


class LegalEntityEditView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"
    template_name = "invoicing/entity_form.html"

    def _entity(self, pk):
        return get_object_or_404(LegalEntity, pk=pk) if pk else None

    def get(self, request, pk=None):
        entity = self._entity(pk)
        form = LegalEntityForm(instance=entity, initial={} if entity else {"is_default": True})
        return render(request, self.template_name, {"form": form, "entity": entity})

    def post(self, request, pk=None):
        entity = self._entity(pk)
        form = LegalEntityForm(request.POST, request.FILES, instance=entity)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form, "entity": entity}, status=400)
        saved = legal_entity_save(entity=form.save(commit=False))
        messages.success(
            request,
            _("%(name)s is saved. Documents already issued keep the details they were issued with.")
            % {"name": saved.name},
        )
        return redirect("invoicing:settings")


# --- Customer portal (by tracking token, no login) ---------------------------------------------------------


class StaffDocumentsView(BackofficeMixin, View):
    """The htmx fragment of the back office's order and customer pages listing their invoices and credit
    notes (the pages belong to lower layers: they load this fragment by URL, never import invoicing)."""

    permission_required = "invoicing.view_invoice"

    def get(self, request, number=None, pk=None):
        order = None
        if number is not None:
            order = order_get_for_user(user=request.user, number=number)
            if order is None:
                raise Http404(_("No such order."))
            documents, scope = documents_for_order(order_id=order.pk), "order"
        else:
            documents, scope = documents_for_customer(customer_id=pk), "customer"
        context = {
            "documents": documents,
            "scope": scope,
            "can_credit": request.user.has_perm("invoicing.issue_credit_note"),
            "order": order if number is not None else None,
            "customer_id": pk,
        }
        if request.htmx:
            return render(request, "invoicing/_staff_documents.html", context)
        # Opened directly (no JavaScript, a bookmark): the same list in a page of its own.
        return render(request, "invoicing/staff_documents.html", context)


class PortalDocumentsView(View):
    """The htmx fragment of the portal page listing the order's invoices and credit notes."""

    def get(self, request, token):
        found = documents_for_token(token=token)
        if found is None:
            raise Http404(_("No such order."))
        order, documents = found
        return render(request, "invoicing/portal_documents.html", {"order": order, "documents": documents})


class PortalDocumentPdfView(View):
    """A document's PDF, for whoever holds the order's tracking token (any other token: 404)."""

    def get(self, request, token, number):
        found = documents_for_token(token=token)
        if found is None:
            raise Http404(_("No such order."))
        _order, documents = found
        document = next((d for d in documents if d.number == number and d.pdf), None)
        if document is None:
            raise Http404(_("No such document."))
        response = FileResponse(document.pdf.open("rb"), as_attachment=True, filename=document.filename)
        response["Cache-Control"] = "private, no-store"
        response["X-Robots-Tag"] = "noindex"
        return response
