"""Connector pages, under a channel's settings (managers): connection, deliveries and replays, file imports
with a progress bar, stock push and polling on demand."""

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from common import jobs
from common.exceptions import DomainError
from common.text import safe_text
from common.views import BackofficeMixin
from orders.models import Channel

from .forms import (
    ConnectionForm,
    DeliveryFilterForm,
    ImportMappingForm,
    ImportUploadForm,
    MarketplaceReasonsForm,
)
from .imports import default_mapping, progress_get
from .models import ImportJob, MarketplaceSend, WebhookDelivery
from .outbound import default_reasons_save, marketplace_send_replay
from .selectors import delivery_counts, delivery_list, import_list
from .services import connection_get, connection_save, delivery_replay, import_mapping_save

PUSHING_KINDS = (
    Channel.Kind.SHOPIFY,
    Channel.Kind.WOOCOMMERCE,
    Channel.Kind.PRESTASHOP,
    Channel.Kind.AMAZON,
    Channel.Kind.MIRAKL,
)


class _ChannelView(BackofficeMixin, View):
    permission_required = "oms.manage_settings"

    def channel(self, code) -> Channel:
        channel = Channel.objects.filter(code=code).first()
        if channel is None:
            raise Http404(_("No such channel."))
        return channel


class ConnectorView(_ChannelView):
    template_name = "orders/channels/connector.html"

    def _render(self, request, channel, connection, form, status=200):
        webhook_url = None
        if channel.kind in (Channel.Kind.SHOPIFY, Channel.Kind.WOOCOMMERCE):
            webhook_url = request.build_absolute_uri(
                reverse(f"webhook-{channel.kind}", kwargs={"code": channel.code})
            )
        return render(
            request,
            self.template_name,
            {
                "channel": channel,
                "connection": connection,
                "form": form,
                "webhook_url": webhook_url,
                "counts": delivery_counts(channel=channel),
                "failed": delivery_list(channel=channel, status=WebhookDelivery.Status.FAILED)[:10],
                "imports": import_list(channel=channel, limit=5),
                "can_push": channel.kind in PUSHING_KINDS,
                "reasons_form": MarketplaceReasonsForm(connection=connection)
                if channel.kind == Channel.Kind.MIRAKL
                else None,
                "sends": MarketplaceSend.objects.filter(channel=channel)
                .exclude(state=MarketplaceSend.State.SENT)
                .select_related("order")[:20],
            },
            status=status,
        )

    def get(self, request, code):
        channel = self.channel(code)
        connection = connection_get(channel=channel)
        return self._render(
            request, channel, connection, ConnectionForm(channel=channel, connection=connection)
        )

    def post(self, request, code):
        channel = self.channel(code)
        connection = connection_get(channel=channel)
        form = ConnectionForm(request.POST, channel=channel, connection=connection)
        if not form.is_valid():
            return self._render(request, channel, connection, form, status=400)
        connection_save(channel=channel, data=form.cleaned_data)
        messages.success(request, _("Connection of %(name)s saved.") % {"name": channel.name})
        return redirect("channels:connector", code=channel.code)


class MarketplaceReasonsView(_ChannelView):
    """Mirakl: save the default reasons, or ask for the marketplace's reasons again (RE02, in a task)."""

    def post(self, request, code):
        channel = self.channel(code)
        if channel.kind != Channel.Kind.MIRAKL:
            raise Http404(_("No such channel."))
        connection = connection_get(channel=channel)
        if request.POST.get("action") == "refresh":
            from .tasks import marketplace_reasons_refresh

            jobs.enqueue(marketplace_reasons_refresh, channel.pk)
            messages.success(request, _("The marketplace's reasons are being fetched."))
            return redirect("channels:connector", code=channel.code)
        form = MarketplaceReasonsForm(request.POST, connection=connection)
        if form.is_valid():
            default_reasons_save(connection=connection, reasons=form.cleaned_data)
            messages.success(request, _("Default reasons saved."))
        else:
            messages.error(request, _("Choose reasons among the marketplace's."))
        return redirect("channels:connector", code=channel.code)


class MarketplaceSendReplayView(_ChannelView):
    """Send again a cancellation or refund the marketplace refused."""

    def post(self, request, code, pk):
        channel = self.channel(code)
        send = get_object_or_404(MarketplaceSend, pk=pk, channel=channel)
        marketplace_send_replay(send=send)
        messages.success(request, _("Sent again: see its state below."))
        return redirect("channels:connector", code=channel.code)


class ConnectorSyncView(_ChannelView):
    """Push every product's stock now, or fetch orders now (PrestaShop): confirm, then queue the task."""

    template_name = "orders/channels/connector_sync.html"

    def get(self, request, code):
        channel = self.channel(code)
        return render(
            request, self.template_name, {"channel": channel, "can_push": channel.kind in PUSHING_KINDS}
        )

    def post(self, request, code):
        from .tasks import prestashop_poll, stock_push

        channel = self.channel(code)
        connection = connection_get(channel=channel)
        action = request.POST.get("action")
        if action == "push" and channel.kind in PUSHING_KINDS and connection.push_stock:
            jobs.enqueue_on_commit(stock_push, channel.pk, True)
            messages.success(
                request,
                _("Every product's stock will be sent to %(name)s in a moment.") % {"name": channel.name},
            )
        elif action == "poll" and channel.kind == Channel.Kind.PRESTASHOP and connection.poll_orders:
            jobs.enqueue_on_commit(prestashop_poll, channel.pk)
            messages.success(
                request, _("Orders of %(name)s will be fetched in a moment.") % {"name": channel.name}
            )
        elif (
            action == "poll"
            and channel.kind in (Channel.Kind.AMAZON, Channel.Kind.MIRAKL)
            and connection.poll_orders
        ):
            from .tasks import marketplace_poll

            jobs.enqueue_on_commit(marketplace_poll, channel.pk)
            messages.success(
                request, _("Orders of %(name)s will be fetched in a moment.") % {"name": channel.name}
            )
        else:
            messages.error(request, _("Turn this on in the connection settings first."))
        return redirect("channels:connector", code=channel.code)


class DeliveryListView(_ChannelView):
    template_name = "orders/channels/delivery_list.html"

    def get(self, request, code):
        channel = self.channel(code)
        form = DeliveryFilterForm(request.GET or None)
        status = form.cleaned_data.get("status", "") if form.is_valid() else ""
        page = Paginator(delivery_list(channel=channel, status=status), 50).get_page(request.GET.get("page"))
        return render(
            request, self.template_name, {"channel": channel, "form": form, "page": page, "status": status}
        )


class DeliveryDetailView(_ChannelView):
    template_name = "orders/channels/delivery_detail.html"

    def _delivery(self, code, pk):
        return get_object_or_404(
            WebhookDelivery.objects.select_related("channel", "order"), channel__code=code, pk=pk
        )

    def get(self, request, code, pk):
        delivery = self._delivery(code, pk)
        try:
            # safe_text: a payload may hold an escaped lone surrogate, which the page could not encode
            payload = safe_text(json.dumps(json.loads(delivery.payload), indent=2, ensure_ascii=False))
        except (ValueError, RecursionError):
            payload = delivery.payload
        return render(
            request,
            self.template_name,
            {
                "channel": delivery.channel,
                "delivery": delivery,
                "payload": payload,
                "details": safe_text(json.dumps(delivery.error_details, indent=2, ensure_ascii=False))
                if delivery.error_details
                else "",
                "headers": delivery.headers,
                "can_replay": delivery.status
                in (WebhookDelivery.Status.FAILED, WebhookDelivery.Status.IGNORED),
            },
        )

    def post(self, request, code, pk):
        """Replay the delivery."""
        delivery = self._delivery(code, pk)
        try:
            delivery_replay(delivery=delivery)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("The delivery is processed again; its result appears here in a moment.")
            )
        return redirect("channels:delivery_detail", code=code, pk=pk)


class ImportView(_ChannelView):
    """Upload a file (dry run or import) and the column mapping saved for the channel."""

    template_name = "orders/channels/import.html"

    def _mapping(self, channel):
        return {**default_mapping(), **connection_get(channel=channel).import_mapping}

    def _render(self, request, channel, upload, mapping_form, status=200):
        return render(
            request,
            self.template_name,
            {
                "channel": channel,
                "upload": upload,
                "mapping_form": mapping_form,
                "imports": import_list(channel=channel, limit=10),
            },
            status=status,
        )

    def get(self, request, code):
        channel = self.channel(code)
        return self._render(
            request,
            channel,
            ImportUploadForm(prefix="upload"),
            ImportMappingForm(prefix="map", mapping=self._mapping(channel)),
        )

    def post(self, request, code):
        from .tasks import import_run

        channel = self.channel(code)
        mapping = self._mapping(channel)
        if request.POST.get("action") == "mapping":
            form = ImportMappingForm(request.POST, prefix="map", mapping=mapping)
            if not form.is_valid():
                return self._render(request, channel, ImportUploadForm(prefix="upload"), form, status=400)
            import_mapping_save(channel=channel, mapping=form.cleaned_data)
            messages.success(request, _("Column mapping saved."))
            return redirect("channels:import", code=code)
        upload = ImportUploadForm(request.POST, request.FILES, prefix="upload")
        if not upload.is_valid():
            return self._render(
                request, channel, upload, ImportMappingForm(prefix="map", mapping=mapping), status=400
            )
        file = upload.cleaned_data["file"]
        job = ImportJob.objects.create(
            channel=channel,
            file=file,
            filename=file.name[:255],
            dry_run=upload.cleaned_data["dry_run"],
            mapping=mapping,
            created_by=request.user,
            job_due_at=jobs.due(),
        )
        jobs.enqueue_on_commit(import_run, job.pk)
        return redirect("channels:import_detail", code=code, pk=job.pk)


class ImportDetailView(_ChannelView):
    template_name = "orders/channels/import_detail.html"
    partial_template = "orders/channels/_import_progress.html"

    def get(self, request, code, pk, partial=False):
        job = get_object_or_404(ImportJob.objects.select_related("channel"), channel__code=code, pk=pk)
        processed, total = progress_get(job=job)
        context = {
            "channel": job.channel,
            "job": job,
            "processed": processed,
            "total": total,
            "percent": int(processed * 100 / total) if total else 0,
            "running": job.status in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING),
        }
        return render(request, self.partial_template if partial else self.template_name, context)


class ImportProgressView(ImportDetailView):
    """The progress fragment that the import page polls every second while the job runs."""

    def get(self, request, code, pk, partial=True):
        return super().get(request, code, pk, partial=True)


class ConnectorHealthView(BackofficeMixin, View):
    """Every connector's last successful sync, backlog, errors and lateness (``health.py``)."""

    permission_required = "oms.manage_settings"

    def get(self, request):
        from .health import connector_health

        return render(request, "orders/channels/health.html", {"rows": connector_health()})
