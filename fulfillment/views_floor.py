"""The warehouse floor: waves and the picking screen, the pack station, print jobs. Scan screens answer
htmx posts with the whole panel (feedback card, counters, next step), 422 with a red card on a refusal."""

from urllib.parse import urlencode

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from common.exceptions import DomainError
from common.views import BackofficeMixin
from inventory.selectors import location_list, user_sees_all_locations

from . import documents, services
from .models import Box, DocumentJob, Parcel, Preparation, Wave
from .selectors import (
    active_boxes,
    preparation_for_user,
    preparations_to_pack,
    preparations_to_wave,
    put_backs_at,
    wave_for_user,
    wave_pick_steps,
    wave_progress,
    waves_for_user,
)
from .services.jobs import document_job_start
from .services.packing import estimated_weight, open_parcel


def _int(value, default=None):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


class PickPermissionMixin(BackofficeMixin):
    """Warehouse pickers, and store staff preparing click & collect orders."""

    def has_permission(self):
        user = self.request.user
        return user.has_perm("fulfillment.pick") or user.has_perm("fulfillment.store_pickup")


class PickingHomeView(BackofficeMixin, View):
    permission_required = "fulfillment.pick"

    def get(self, request):
        locations = list(location_list(user=request.user, kind="warehouse")) or list(
            location_list(user=request.user)
        )
        to_wave = list(
            preparations_to_wave(user=request.user).order_by("ship_by", "cutoff", "-express", "pk")
        )
        per_location = []
        for location in locations:
            preps = [p for p in to_wave if p.location_id == location.pk]
            per_location.append(
                {
                    "location": location,
                    "count": len(preps),
                    "express": sum(1 for p in preps if p.express),
                    "next_cutoff": next((p for p in preps if p.cutoff), None),
                    "settings": services.wave_settings_for(location=location),
                }
            )
        today_start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        waves = list(
            waves_for_user(user=request.user)
            .filter(status__in=[Wave.Status.RELEASED, Wave.Status.PICKING])
            .order_by("ship_by", "cutoff", "pk")
        ) + list(
            waves_for_user(user=request.user, statuses=[Wave.Status.DONE])
            .filter(completed_at__gte=today_start)
            .order_by("-completed_at")
        )
        for wave in waves:
            wave.progress = wave_progress(wave=wave)
        return render(
            request,
            "fulfillment/picking.html",
            {
                "per_location": per_location,
                "waves": waves,
                "can_settle": request.user.has_perm("fulfillment.plan_shifts"),
            },
        )


class WaveReleaseView(BackofficeMixin, View):
    permission_required = "fulfillment.pick"

    def post(self, request):
        location = next(
            (loc for loc in location_list(user=request.user) if loc.code == request.POST.get("location")),
            None,
        )
        if location is None:
            messages.error(request, _("Choose one of your locations."))
            return HttpResponseRedirect(reverse("fulfillment:picking"))
        size = _int(request.POST.get("size"))
        if request.POST.get("size") and (size is None or size <= 0 or size > 500):
            messages.error(request, _("A wave holds between 1 and 500 orders."))
            return HttpResponseRedirect(reverse("fulfillment:picking"))
        try:
            wave = services.wave_release(location=location, actor=request.user, max_orders=size)
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("fulfillment:picking"))
        if wave is None:
            messages.info(
                request, _("No order is waiting to be picked at %(location)s.") % {"location": location.name}
            )
            return HttpResponseRedirect(reverse("fulfillment:picking"))
        messages.success(
            request,
            _("Wave %(wave)s released: %(count)s order(s).") % {"wave": wave.code, "count": wave.order_count},
        )
        return HttpResponseRedirect(reverse("fulfillment:wave_pick", args=[wave.pk]))


class WavePickView(PickPermissionMixin, View):
    """The picking screen (GET) and a scan (POST: code, quantity, bin_ok)."""

    def _wave(self, request, pk):
        wave = wave_for_user(user=request.user, pk=pk)
        if wave is None:
            raise Http404(_("No such wave at your locations."))
        return wave

    def panel(
        self,
        request,
        wave,
        *,
        status=200,
        feedback=None,
        ok=True,
        bin_ok="",
        full=False,
        steps=None,
        progress=None,
    ):
        if steps is None:
            steps = wave_pick_steps(wave=wave)
        current = next((s for s in steps if not s.done), None)
        if current is None or (bin_ok and current.bin_code.upper() != bin_ok.upper()):
            bin_ok = ""
        context = {
            "wave": wave,
            "steps": steps,
            "current": current,
            "upcoming": [s for s in steps if not s.done and s is not current][:5],
            "put_backs": put_backs_at(location_id=wave.location_id),
            "progress": progress if progress is not None else wave_progress(wave=wave),
            "feedback": feedback,
            "ok": ok,
            "bin_ok": bin_ok,
        }
        template = "fulfillment/pick.html" if full else "fulfillment/_pick_panel.html"
        return render(request, template, context, status=status)

    def get(self, request, pk):
        wave = self._wave(request, pk)
        # A bin confirmed by a scan sent without htmx (the page still loading, no JavaScript) comes back
        # through the redirect; the panel keeps it only while it is the current step's bin.
        return self.panel(request, wave, full=True, bin_ok=request.GET.get("bin_ok", "")[:64])

    def post(self, request, pk):
        # The wave is not read here: the service locks it with the user's scope in one statement. A refusal
        # (another location's wave among them) reads it as the page does: 404 when it is not the user's.
        quantity = _int(request.POST.get("quantity") or 1)
        bin_ok = request.POST.get("bin_ok", "")
        try:
            if quantity is None:
                raise services.PickRefused(_("The quantity is a whole number."), code="invalid_quantity")
            outcome = services.pick_scan(
                wave=Wave(pk=pk),
                code=request.POST.get("code", ""),
                quantity=quantity,
                bin_confirmed=bin_ok,
                actor=request.user,
            )
        except DomainError as exc:
            wave = self._wave(request, pk)
            return self._answer(request, wave, feedback=exc.message, ok=False, bin_ok=bin_ok, status=422)
        if outcome.kind == "bin":
            bin_ok = outcome.step.bin_code
        # The service's wave, pick list and progress are current (read under the wave's lock, after the
        # scan's writes): the answer reuses them rather than reading the wave, its location and lines again.
        return self._answer(
            request,
            outcome.wave,
            feedback=outcome.message,
            ok=True,
            bin_ok=bin_ok,
            steps=outcome.steps,
            progress=outcome.progress,
        )

    def _answer(self, request, wave, **kwargs):
        if request.htmx:
            return self.panel(request, wave, **kwargs)
        kwargs.pop("steps", None)
        kwargs.pop("progress", None)
        (messages.success if kwargs.get("ok") else messages.error)(request, kwargs.get("feedback"))
        if kwargs.get("status", 200) >= 400:
            return self.panel(request, wave, full=True, **{**kwargs, "status": 400})
        url = reverse("fulfillment:wave_pick", args=[wave.pk])
        if kwargs.get("bin_ok"):
            url += "?" + urlencode({"bin_ok": kwargs["bin_ok"]})
        return HttpResponseRedirect(url)


class WaveShortView(WavePickView):
    http_method_names = ["post"]

    def post(self, request, pk):
        wave = self._wave(request, pk)
        try:
            outcome = services.pick_short(
                wave=wave,
                product_id=_int(request.POST.get("product")),
                quantity=_int(request.POST.get("quantity"), 0),
                reason=request.POST.get("reason", ""),
                actor=request.user,
            )
        except DomainError as exc:
            wave.refresh_from_db()
            return self._answer(request, wave, feedback=exc.message, ok=False, status=422)
        wave.refresh_from_db()
        return self._answer(request, wave, feedback=outcome.message, ok=True)


class WaveUndoView(WavePickView):
    http_method_names = ["post"]

    def post(self, request, pk):
        wave = self._wave(request, pk)
        try:
            scan = services.pick_undo(wave=wave, actor=request.user)
        except DomainError as exc:
            return self._answer(request, wave, feedback=exc.message, ok=False, status=422)
        wave.refresh_from_db()
        text = _("Undone: %(quantity)s × %(sku)s put back.") % {
            "quantity": scan.quantity,
            "sku": scan.line.sku,
        }
        return self._answer(request, wave, feedback=text, ok=True)


class WavePutBackView(WavePickView):
    """The picker confirms a put-back (POST: line): units picked and then cancelled are back in their bin."""

    http_method_names = ["post"]

    def post(self, request, pk):
        wave = self._wave(request, pk)
        line_id = _int(request.POST.get("line"))
        try:
            if line_id is None:
                raise services.PickRefused(_("Nothing to put back on this line."), code="nothing_to_put_back")
            text = services.pick_put_back_confirm(line_id=line_id, actor=request.user)
        except DomainError as exc:
            return self._answer(request, wave, feedback=exc.message, ok=False, status=422)
        wave.refresh_from_db()
        return self._answer(request, wave, feedback=text, ok=True)


class WavePdfView(PickPermissionMixin, View):
    def get(self, request, pk):
        wave = wave_for_user(user=request.user, pk=pk)
        if wave is None:
            raise Http404(_("No such wave at your locations."))
        pdf = documents.pick_lists_pdf(waves=[wave])
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="pick-list-{wave.code}.pdf"'
        return response


class PrintJobStartView(BackofficeMixin, View):
    """Bulk print of the selected waves' pick lists or packing slips, as a Celery job with a progress bar."""

    permission_required = "fulfillment.pick"

    def post(self, request):
        ids = [i for i in (_int(v) for v in request.POST.getlist("waves")) if i]
        mine = list(waves_for_user(user=request.user).filter(pk__in=ids).values_list("pk", flat=True))
        try:
            job = document_job_start(
                kind=request.POST.get("kind", ""), params={"waves": mine}, user=request.user
            )
        except DomainError as exc:
            if request.htmx:
                return render(request, "fulfillment/_job.html", {"error": exc.message}, status=422)
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("fulfillment:picking"))
        job.refresh_from_db()
        if request.htmx:
            return render(request, "fulfillment/_job.html", {"job": job})
        return HttpResponseRedirect(reverse("fulfillment:job", args=[job.pk]))


def _job(request, pk, **filters) -> DocumentJob:
    """A print job of the user's (managers see every job)."""
    jobs = DocumentJob.objects.filter(pk=pk, **filters)
    if not user_sees_all_locations(user=request.user):
        jobs = jobs.filter(created_by=request.user)
    return get_object_or_404(jobs)


class PrintJobView(BackofficeMixin, View):
    permission_required = "oms.access_backoffice"

    def get(self, request, pk):
        job = _job(request, pk)
        template = "fulfillment/_job.html" if request.htmx else "fulfillment/job.html"
        return render(request, template, {"job": job})


class PrintJobDownloadView(BackofficeMixin, View):
    permission_required = "oms.access_backoffice"

    def get(self, request, pk):
        job = _job(request, pk, status=DocumentJob.Status.DONE)
        extension = job.file.name.rsplit(".", 1)[-1]
        content_type = "application/pdf" if extension == "pdf" else "application/octet-stream"
        filename = f"{job.kind}-{job.pk}.{extension}"
        return FileResponse(job.file.open("rb"), content_type=content_type, filename=filename)


class WaveSettingsView(BackofficeMixin, View):
    permission_required = "fulfillment.plan_shifts"

    def get(self, request):
        rows = [
            {"location": loc, "settings": services.wave_settings_for(location=loc)}
            for loc in location_list(user=request.user)
        ]
        return render(request, "fulfillment/wave_settings.html", {"rows": rows})

    def post(self, request):
        location = next(
            (loc for loc in location_list(user=request.user) if loc.code == request.POST.get("location")),
            None,
        )
        if location is None:
            raise Http404(_("No such location."))
        try:
            services.wave_settings_save(
                location=location,
                max_orders=_int(request.POST.get("max_orders"), 0),
                auto_release=request.POST.get("auto_release") == "on",
                minutes=_int(request.POST.get("minutes"), -1),
            )
        except DomainError as exc:
            messages.error(request, f"{location.name}: {exc.message}")
        else:
            messages.success(request, _("Wave settings of %(location)s saved.") % {"location": location.name})
        return HttpResponseRedirect(reverse("fulfillment:wave_settings"))


# --- Pack station -----------------------------------------------------------------------------------------


class PackStationView(BackofficeMixin, View):
    permission_required = "fulfillment.pack"

    def get(self, request):
        preps = preparations_to_pack(user=request.user).order_by("ship_by", "cutoff", "-express", "pk")[:100]
        return render(
            request, "fulfillment/pack_station.html", {"preps": preps, "code": request.GET.get("code", "")}
        )

    def post(self, request):
        code = request.POST.get("code", "")
        try:
            prep = services.pack_lookup(code=code, user=request.user)
        except DomainError as exc:
            if request.htmx:
                return render(
                    request, "fulfillment/_lookup_feedback.html", {"feedback": exc.message}, status=422
                )
            messages.error(request, exc.message)
            preps = preparations_to_pack(user=request.user)[:100]
            return render(
                request, "fulfillment/pack_station.html", {"preps": preps, "code": code}, status=400
            )
        url = reverse("fulfillment:pack", args=[prep.pk])
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)


class PackView(BackofficeMixin, View):
    """One order at the pack station: scan its units, close parcels."""

    permission_required = "fulfillment.pack"

    def _prep(self, request, pk) -> Preparation:
        prep = preparation_for_user(user=request.user, pk=pk)
        if prep is None:
            raise Http404(_("No such order to pack at your locations."))
        return prep

    def panel(
        self, request, prep, *, status=200, feedback=None, ok=True, full=False, closed=None, current=None
    ):
        if current is None:
            prep.refresh_from_db()
            parcel = open_parcel(preparation=prep)
        else:  # the service read the preparation, its lines and its open parcel under their locks
            prep, parcel = current
        lines = list(prep.lines.all())
        boxes = active_boxes()
        if current is not None and parcel is not None:  # the scan's: every item with its line, as written
            items = list(parcel.items.all())
        else:
            items = list(parcel.items.select_related("line")) if parcel else []
        prefetched = getattr(prep, "_prefetched_objects_cache", {})
        if "parcels" in prefetched:  # the scan read every parcel, with its shipment and box
            closed_parcels = [p for p in prefetched["parcels"] if p.status == Parcel.Status.CLOSED]
        else:
            closed_parcels = list(
                prep.parcels.filter(status=Parcel.Status.CLOSED).select_related(
                    "shipment__return_label", "box"
                )
            )
        if closed is not None:  # its label (and return label) may have been made since it was loaded
            closed = next((p for p in closed_parcels if p.pk == closed.pk), None) or (
                Parcel.objects.select_related("shipment__return_label", "box").get(pk=closed.pk)
            )
        context = {
            "prep": prep,
            "lines": lines,
            "parcel": parcel,
            "items": items,
            "closed_parcels": closed_parcels,
            "boxes": boxes,
            "estimate": estimated_weight(parcel=parcel, box=None, items=items) if parcel else 0,
            "left": sum(line.quantity - line.packed for line in lines),
            "packed": sum(line.packed for line in lines),
            "total": sum(line.quantity for line in lines),
            "feedback": feedback,
            "ok": ok,
            "closed": closed,
        }
        template = "fulfillment/pack.html" if full else "fulfillment/_pack_panel.html"
        return render(request, template, context, status=status)

    def get(self, request, pk):
        return self.panel(request, self._prep(request, pk), full=True)

    def _answer(self, request, prep, **kwargs):
        if request.htmx:
            return self.panel(request, prep, **kwargs)
        kwargs.pop("current", None)
        (messages.success if kwargs.get("ok", True) else messages.error)(request, kwargs.get("feedback"))
        if kwargs.get("status", 200) >= 400:
            return self.panel(request, prep, full=True, **{**kwargs, "status": 400})
        return HttpResponseRedirect(reverse("fulfillment:pack", args=[prep.pk]))

    def post(self, request, pk):
        # The preparation is not read here: the service locks it with the user's scope in one statement. A
        # refusal (another location's order among them) reads it as the page does: 404 when not the user's.
        quantity = _int(request.POST.get("quantity") or 1)
        try:
            if quantity is None:
                raise services.PackRefused(_("The quantity is a whole number."), code="invalid_quantity")
            item = services.pack_scan(
                preparation=Preparation(pk=pk),
                code=request.POST.get("code", ""),
                quantity=quantity,
                actor=request.user,
            )
        except DomainError as exc:
            return self._answer(request, self._prep(request, pk), feedback=exc.message, ok=False, status=422)
        text = _("%(quantity)s × %(sku)s in parcel %(parcel)s.") % {
            "quantity": quantity,
            "sku": item.line.sku,
            "parcel": item.parcel.seq,
        }
        prep = item.parcel.preparation
        return self._answer(request, prep, feedback=text, current=(prep, item.parcel))


class PackUndoView(PackView):
    http_method_names = ["post"]

    def post(self, request, pk):
        prep = self._prep(request, pk)
        try:
            scan = services.pack_undo(preparation=prep, actor=request.user)
        except DomainError as exc:
            return self._answer(request, prep, feedback=exc.message, ok=False, status=422)
        text = _("Undone: %(quantity)s × %(sku)s taken out of the parcel.") % {
            "quantity": scan.quantity,
            "sku": scan.line.sku,
        }
        return self._answer(request, prep, feedback=text)


class ParcelCloseView(PackView):
    http_method_names = ["post"]

    def post(self, request, pk):
        # As a scan: the service locks the preparation with the user's scope; a refusal reads it (or 404s).
        box = None
        if request.POST.get("box"):
            box = Box.objects.filter(code=request.POST["box"]).first()
            if box is None:
                return self._answer(
                    request,
                    self._prep(request, pk),
                    feedback=_("Choose one of the boxes."),
                    ok=False,
                    status=422,
                )
        raw_weight = (request.POST.get("weight_g") or "").strip()
        weight = _int(raw_weight) if raw_weight else None
        if raw_weight and weight is None:
            return self._answer(
                request,
                self._prep(request, pk),
                feedback=_("The weight is a whole number of grams."),
                ok=False,
                status=422,
            )
        try:
            shipment = services.parcel_close(
                preparation=Preparation(pk=pk), box=box, weight_g=weight, actor=request.user
            )
        except DomainError as exc:
            return self._answer(request, self._prep(request, pk), feedback=exc.message, ok=False, status=422)
        text = _(
            "Parcel %(parcel)s closed (%(weight)s g). "
            "Print its packing slip and put it on the outgoing shelf."
        ) % {
            "parcel": shipment.number,
            "weight": shipment.weight_g,
        }
        # the preparation as the close left it (its lines read for its status), no parcel open any more
        prep = shipment.parcel.preparation
        return self._answer(request, prep, feedback=text, closed=shipment.parcel, current=(prep, None))


class SlipPdfView(BackofficeMixin, View):
    permission_required = "fulfillment.pack"

    def get(self, request, pk):
        parcel = get_object_or_404(
            Parcel.objects.select_related("preparation", "shipment", "box"),
            pk=pk,
            status=Parcel.Status.CLOSED,
        )
        if preparation_for_user(user=request.user, pk=parcel.preparation_id) is None:
            raise Http404(_("No such parcel at your locations."))
        response = HttpResponse(documents.packing_slips_pdf(parcels=[parcel]), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="slip-{parcel.shipment.number}.pdf"'
        return response


class BrandingPreviewView(BackofficeMixin, View):
    """Sample packing slip and pick list with the current branding (the branding settings' preview)."""

    permission_required = "oms.manage_settings"
    kind = "slip"

    def get(self, request):
        pdf = (
            documents.packing_slip_preview_pdf() if self.kind == "slip" else documents.pick_list_preview_pdf()
        )
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{self.kind}-preview.pdf"'
        return response
