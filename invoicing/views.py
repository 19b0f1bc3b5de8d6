"""Pages of the invoicing app: the documents (list, detail, files, sending, credit notes), the accountant's
export with its progress bar, the invoicing settings, and the customer's portal fragment."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from common.exceptions import DomainError
from common.models import DomainEvent
from common.views import BackofficeMixin
from customers.services import customer_siren_set
from orders.models import Channel
from orders.selectors import order_get_for_user

from .forms import (
    ChannelBillingForm,
    ChartOfAccountsForm,
    CreditNoteForm,
    DocumentFilterForm,
    ExportForm,
    LegalEntityForm,
    PaymentForm,
    SandboxDecisionForm,
    SendForm,
    SirenForm,
)
from .models import (
    ChannelBilling,
    DocumentKind,
    DocumentStatus,
    EReport,
    Invoice,
    InvoiceExport,
    LegalEntity,
    PlatformState,
    Transmission,
)
from .selectors import (
    document_get,
    document_list,
    documents_for_customer,
    documents_for_order,
    documents_for_token,
)
from .services.delivery import delivery_request
from .services.entities import channel_billing_save, legal_entity_save
from .services.ereporting import ereport_send
from .services.exports import export_request
from .services.fec import chart_of
from .services.issue import credit_note_issue, credited_quantities, invoice_issue_now
from .services.mentions import siren_from_vat
from .services.payments import document_balance, payment_record
from .services.render import document_render_again
from .services.transmission import (
    document_problem,
    platform_poll,
    problems_open,
    transmission_request,
    transmission_retry,
    webhook_receive,
)

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
                **self._einvoicing(request, document),
            },
        )

    def _einvoicing(self, request, document):
        transmission = document.transmissions.filter(kind=Transmission.Kind.DOCUMENT).first()
        payments = list(document.payments.all()) if not document.is_credit_note else []
        return {
            "transmission": transmission,
            "lifecycle": list(document.lifecycle.order_by("-at", "-id")),
            "problem": document_problem(document),
            "payments": payments,
            "balance": document_balance(document) if not document.is_credit_note else None,
            "can_pay": request.user.has_perm("invoicing.record_payment") and not document.is_credit_note,
            "can_transmit": request.user.has_perm("invoicing.manage_einvoicing")
            and document.is_einvoice
            and (transmission is None or transmission.state == Transmission.State.FAILED),
            "sandbox_form": SandboxDecisionForm()
            if transmission is not None
            and transmission.platform == "sandbox"
            and transmission.state == Transmission.State.SENT
            and request.user.has_perm("invoicing.manage_einvoicing")
            else None,
        }

    def post(self, request, pk):
        """Render again a document whose rendering failed (or is stuck)."""
        if not request.user.has_perm("invoicing.send_invoice"):
            raise PermissionDenied
        document = _document_or_404(pk)
        if document_render_again(document=document):
            messages.info(
                request, _("The PDF of %(number)s is being rendered again.") % {"number": document.number}
            )
        else:
            messages.info(request, _("The PDF of %(number)s is ready.") % {"number": document.number})
        return redirect("invoicing:document_detail", pk=document.pk)


class DocumentFileView(BackofficeMixin, View):
    permission_required = "invoicing.view_invoice"

    def get(self, request, pk, fmt):
        if fmt not in ("pdf", "xml", "ubl"):
            raise Http404(_("No such file."))
        document = get_object_or_404(Invoice, pk=pk)
        field = {"pdf": document.pdf, "xml": document.xml, "ubl": document.ubl}[fmt]
        if not field:
            raise Http404(_("This document is not rendered yet."))
        filename = {
            "pdf": document.filename,
            "xml": f"{document.number}-factur-x.xml",
            "ubl": f"{document.number}-ubl.xml",
        }[fmt]
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
                kind=form.cleaned_data["kind"],
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
        field = {"csv": export.csv, "xlsx": export.xlsx, "zip": export.zip, "fec": export.fec}.get(fmt)
        if not field:
            raise Http404(_("This file is not ready."))
        name = f"invoices-{export.date_from:%Y%m%d}-{export.date_to:%Y%m%d}.{fmt}"
        if fmt == "fec":
            name = field.name.rsplit("/", 1)[-1]
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


# --- E-invoicing: transmission, lifecycle, payments, e-reporting, webhooks --------------------------------


class DocumentTransmitView(BackofficeMixin, View):
    """Send a document to its platform (one issued before a platform was set), or again after a refusal."""

    permission_required = "invoicing.manage_einvoicing"

    def post(self, request, pk):
        document = _document_or_404(pk)
        existing = document.transmissions.filter(kind=Transmission.Kind.DOCUMENT).first()
        try:
            if existing is not None:
                transmission_retry(transmission=existing, actor=request.user)
            else:
                transmission_request(document=document, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("%(number)s is queued for its platform.") % {"number": document.number}
            )
        return redirect("invoicing:document_detail", pk=document.pk)


class PaymentCreateView(BackofficeMixin, View):
    permission_required = "invoicing.record_payment"
    template_name = "invoicing/payment_form.html"

    def _context(self, document, form):
        return {"doc": document, "form": form, "balance": document_balance(document)}

    def get(self, request, pk):
        document = _document_or_404(pk)
        if document.kind != DocumentKind.INVOICE:
            raise Http404(_("Payments are recorded on invoices."))
        balance = document_balance(document)
        form = PaymentForm(initial={"paid_on": timezone.localdate(), "amount": balance, "method": "transfer"})
        return render(request, self.template_name, self._context(document, form))

    def post(self, request, pk):
        document = _document_or_404(pk)
        if document.kind != DocumentKind.INVOICE:
            raise Http404(_("Payments are recorded on invoices."))
        form = PaymentForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic(durable=True):
                    payment = payment_record(document=document, actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    _("Payment of %(amount)s EUR recorded on %(number)s.")
                    % {"amount": payment.amount, "number": document.number},
                )
                return redirect("invoicing:document_detail", pk=document.pk)
        return render(request, self.template_name, self._context(document, form), status=400)


class SandboxDecisionView(BackofficeMixin, View):
    """Demo: play the buyer on the sandbox platform (approve, refuse with a reason…); the decision comes back
    through the signed webhook when a secret is set, else by the next polling."""

    permission_required = "invoicing.manage_einvoicing"

    def post(self, request, pk):
        from .platforms.registry import platform_config
        from .platforms.sandbox import buyer_decision

        document = _document_or_404(pk)
        transmission = document.transmissions.filter(
            kind=Transmission.Kind.DOCUMENT, platform="sandbox", state=Transmission.State.SENT
        ).first()
        form = SandboxDecisionForm(request.POST)
        if transmission is None or not form.is_valid():
            messages.error(request, _("Only a document sent to the sandbox platform can be decided on."))
            return redirect("invoicing:document_detail", pk=document.pk)
        config = platform_config("sandbox")
        call = buyer_decision(
            platform_ref=transmission.platform_ref,
            code=form.cleaned_data["code"],
            reason=form.cleaned_data["reason"],
            config=config,
        )
        if config.get("webhook_secret"):
            webhook_receive(platform="sandbox", headers=call["headers"], body=call["body"])
        else:
            platform_poll(platform="sandbox")
        messages.success(request, _("The sandbox buyer's decision is recorded."))
        return redirect("invoicing:document_detail", pk=document.pk)


class PlatformWebhookView(View):
    """``POST /webhooks/einvoicing/<platform>/``: the platform's signed lifecycle statuses."""

    http_method_names = ["post"]

    @method_decorator(csrf_exempt)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, platform):
        from .platforms.base import NotSupported, WebhookRejected
        from .platforms.registry import ADAPTERS

        if platform not in ADAPTERS:
            return JsonResponse({"error": {"code": "not_found", "message": "Unknown platform."}}, status=404)
        try:
            recorded = webhook_receive(platform=platform, headers=request.headers, body=request.body)
        except NotSupported as exc:
            return JsonResponse({"error": {"code": "not_supported", "message": exc.message}}, status=404)
        except WebhookRejected as exc:
            return JsonResponse(
                {"error": {"code": "webhook_rejected", "message": exc.message}}, status=exc.status or 400
            )
        return JsonResponse({"recorded": recorded})


class EInvoicingView(BackofficeMixin, View):
    """The e-invoicing desk: refused or rejected documents to correct, transmissions in trouble, e-reports."""

    permission_required = "invoicing.view_invoice"

    def get(self, request):
        return render(
            request,
            "invoicing/einvoicing.html",
            {
                "problems": list(problems_open()[:50]),
                "stuck": list(
                    Transmission.objects.exclude(state=Transmission.State.SENT)
                    .select_related("document", "report")
                    .order_by("-created_at")[:50]
                ),
                "recent": list(
                    Transmission.objects.filter(
                        state=Transmission.State.SENT, kind=Transmission.Kind.DOCUMENT
                    )
                    .select_related("document")
                    .order_by("-sent_at")[:20]
                ),
                "reports": list(EReport.objects.select_related("legal_entity")[:40]),
                "polling": list(PlatformState.objects.all()),
            },
        )


class EReportDetailView(BackofficeMixin, View):
    permission_required = "invoicing.view_invoice"

    def get(self, request, pk):
        report = get_object_or_404(EReport.objects.select_related("legal_entity", "corrects"), pk=pk)
        return render(
            request,
            "invoicing/ereport_detail.html",
            {
                "report": report,
                "lines": report.lines.select_related("document"),
                "transmission": report.transmissions.first(),
                "can_send": request.user.has_perm("invoicing.manage_einvoicing")
                and report.status in (EReport.Status.DRAFT, EReport.Status.REJECTED),
            },
        )

    def post(self, request, pk):
        if not request.user.has_perm("invoicing.manage_einvoicing"):
            raise PermissionDenied
        report = get_object_or_404(EReport, pk=pk)
        try:
            ereport_send(report=report, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The e-report is queued for the platform."))
        return redirect("invoicing:ereport_detail", pk=report.pk)


class OrderInvoicingView(BackofficeMixin, View):
    """The htmx fragment of the order page (customer service): the order's documents with their e-invoicing
    status, alerts, and when a B2B invoice was refused for a missing SIREN, the form to fill it in and
    issue."""

    permission_required = "invoicing.view_invoice"

    def _context(self, order, form=None):
        documents = list(
            Invoice.objects.filter(order=order).prefetch_related("lifecycle", "transmissions").order_by("pk")
        )
        for doc in documents:
            events = list(doc.lifecycle.all())
            doc.last_status = events[-1] if events else None
            doc.problem = document_problem(doc)
        missing = (
            DomainEvent.objects.filter(order_id=order.pk, code="einvoice.siren_missing").exists()
            and not order.customer.siren
        )
        if missing and form is None:
            form = SirenForm(initial={"siren": siren_from_vat(order.customer.vat_number)})
        return {"order": order, "documents": documents, "siren_form": form if missing else None}

    def _order(self, number):
        from orders.models import Order

        return get_object_or_404(Order.objects.select_related("customer"), number=number)

    def get(self, request, number):
        order = self._order(number)
        return render(request, "invoicing/_order_invoicing.html", self._context(order))

    def post(self, request, number):
        if not request.user.has_perm("customers.change_customer"):
            raise PermissionDenied
        order = self._order(number)
        form = SirenForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic(durable=True):
                    customer_siren_set(customer=order.customer, siren=form.cleaned_data["siren"])
                    order.customer.refresh_from_db()
                    invoice = invoice_issue_now(order=order, actor=request.user)
            except DomainError as exc:
                form.add_error("siren", exc.message)
            else:
                if invoice is not None:
                    messages.success(request, _("Invoice %(number)s issued.") % {"number": invoice.number})
                return redirect("orders:order_detail", number=order.number)
        return render(request, "invoicing/_order_invoicing.html", self._context(order, form), status=400)


class ChartOfAccountsView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"
    template_name = "invoicing/accounts_form.html"

    def get(self, request, pk):
        entity = get_object_or_404(LegalEntity, pk=pk)
        form = ChartOfAccountsForm(instance=chart_of(entity))
        return render(request, self.template_name, {"entity": entity, "form": form})

    def post(self, request, pk):
        entity = get_object_or_404(LegalEntity, pk=pk)
        form = ChartOfAccountsForm(request.POST, instance=chart_of(entity))
        if not form.is_valid():
            return render(request, self.template_name, {"entity": entity, "form": form}, status=400)
        form.save()
        messages.success(request, _("The chart of accounts of %(name)s is saved.") % {"name": entity.name})
        return redirect("invoicing:settings")
