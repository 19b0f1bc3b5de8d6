"""The picking screen's operations: scan the bin, then the product (or type a quantity); report units
missing or damaged; undo the last scan. Every refusal is a ``PickRefused`` with a code and a sentence the
screen shows as it is."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.exceptions import DomainError
from inventory import services as inventory_services
from inventory.models import StockMovement
from inventory.selectors import code_names, locations_for_user, product_by_code, user_may_act_at

from ..events import preparation_event
from ..locks import (
    lock_last_scan,
    lock_lines,
    lock_preparation,
    lock_preparations,
    lock_wave,
    lock_wave_preparations,
)
from ..models import Preparation, PreparationLine, PreparationStatus, ScanEvent, Wave
from ..selectors import (
    PickStep,
    WaveProgress,
    put_backs_changed,
    wave_for_user,
    wave_pick_lines,
    wave_pick_steps,
    wave_preparations,
    wave_progress_of,
)
from .preparation import preparation_refresh

SHORT_REASONS = {
    "missing": StockMovement.AdjustmentCode.LOST,
    "damaged": StockMovement.AdjustmentCode.DAMAGED,
}


class PickRefused(DomainError):
    code = "pick_refused"
    status_code = 422


@dataclass
class PickOutcome:
    kind: str  # "bin" (bin confirmed) | "pick" (units picked) | "short"
    message: str
    step: PickStep | None
    quantity: int = 0
    totes: list[tuple[int | None, str, int]] | None = None  # (tote, order number, units) put in each tote
    wave_done: bool = False
    # The wave as the scan left it (locked, its status current) and its pick list read after the scan's
    # writes: the screen answers from them instead of reading both again (bench/README.md, "Picking and
    # packing scans").
    wave: Wave | None = None
    steps: list[PickStep] | None = None
    progress: WaveProgress | None = None  # counted from the lines and preparations the scan read


def _check(*, wave: Wave, actor) -> Wave:
    return _check_locked(wave=wave, actor=actor)[0]


def _check_locked(*, wave: Wave, actor, lock: bool = True) -> tuple[Wave, dict[int, Preparation]]:
    """The wave and its preparations locked (by id), after the checks every scan makes. The actor's scope
    is checked by the wave's locking statement (one statement, not a lock and then a look-up). With
    ``lock=False``, the same read without a lock (a scan that writes nothing: ``pick_scan``)."""
    if actor is None:
        found = lock_wave(wave.pk) if lock else Wave.objects.select_related("location").get(pk=wave.pk)
    else:
        found = (
            lock_wave(wave.pk, locations=locations_for_user(user=actor))
            if lock
            else wave_for_user(user=actor, pk=wave.pk)
        )
        if found is None:
            other = Wave.objects.select_related("location").filter(pk=wave.pk).first()
            if other is None:
                raise PickRefused(_("No such wave at your locations."), code="not_found")
            raise PickRefused(
                _("This wave is picked at %(location)s, not at your locations.")
                % {"location": other.location.name},
                code="other_location",
            )
    wave = found
    if wave.status in (Wave.Status.DONE, Wave.Status.CANCELLED):
        raise PickRefused(
            _("Wave %(wave)s is closed: nothing left to pick.") % {"wave": wave.code}, code="wave_closed"
        )
    preps = {}
    # locked before their lines, as the lock order wants
    for prep in lock_wave_preparations(wave.pk) if lock else wave_preparations(wave_id=wave.pk):
        if prep.location_id == wave.location_id:
            prep.location = wave.location  # the events name it
        preps[prep.pk] = prep
    return wave, preps


def current_step(*, wave: Wave) -> PickStep | None:
    return next((s for s in wave_pick_steps(wave=wave) if not s.done), None)


def _normalise(code: str) -> str:
    return (code or "").strip().upper()


def _start(*, wave: Wave, preps: list[Preparation], actor) -> None:
    """``preps``: the touched preparations, locked (``_check_locked``), by id."""
    now = timezone.now()
    if wave.status == Wave.Status.RELEASED:
        wave.status = Wave.Status.PICKING
        wave.started_at = now
        wave.picker = actor if getattr(actor, "pk", None) else None
        wave.save(update_fields=["status", "started_at", "picker"])
    for prep in (p for p in preps if p.status == PreparationStatus.WAVED):
        prep.status = PreparationStatus.PICKING
        prep.save(update_fields=["status"])
        preparation_event("preparation.started", prep=prep, actor=actor)


def _finish(
    *, wave: Wave, preps: list[Preparation], actor, lines: list[PreparationLine] | None = None
) -> tuple[bool, list[PickStep]]:
    """Move the touched preparations (locked, by id) on; close the wave when nothing is left to pick.
    Returns whether it closed and the wave's pick list as it is now. ``lines``: the wave's lines as the
    scan's writes left them (``pick_scan``), which then give each touched preparation its lines too;
    without them, the pick list and each preparation's lines are read."""
    if lines is not None:
        by_prep: dict[int, list[PreparationLine]] = {}
        for line in lines:
            by_prep.setdefault(line.preparation_id, []).append(line)
        for prep in preps:  # the touched preparations have lines to pick: not cancelled, in ``lines``
            prep._prefetched_objects_cache = {"lines": by_prep.get(prep.pk, [])}
    for prep in preps:
        before = prep.status
        prep = preparation_refresh(preparation=prep)
        if prep is not None and before in Preparation.OPEN and prep.status not in Preparation.OPEN:
            preparation_event("preparation.picked", prep=prep, actor=actor)
    steps = wave_pick_steps(wave=wave, lines=lines)
    if all(s.done for s in steps):
        wave.status = Wave.Status.DONE
        wave.completed_at = timezone.now()
        wave.save(update_fields=["status", "completed_at"])
        return True, steps
    return False, steps


def pick_scan(
    *, wave: Wave, code: str, quantity: int = 1, bin_confirmed: str = "", actor=None
) -> PickOutcome:
    """One scan on the picking screen. The bin of the current step confirms the bin; the product's EAN (or
    SKU) then picks ``quantity`` units into the totes that need them, in tote order.

    A scan sent before a bin is confirmed (``bin_confirmed`` empty: every other scan of a picker) is the
    step's bin or a refusal, unless the step has no bin: it writes nothing, so it is answered from the wave,
    its preparations and lines read without a transaction or a lock (two round trips and the rows' locks
    fewer; its answer is what the next scan checks again under the locks). Only a product scan of a step
    without a bin goes on to the locked scan, which reads them again."""
    if not _normalise(bin_confirmed):
        found, preps = _check_locked(wave=wave, actor=actor, lock=False)
        lines = wave_pick_lines(wave=found)
        steps, step = _aim(wave=found, lines=lines, code=code, bin_confirmed="")
        if step is None:
            return _bin_confirmed(wave=found, lines=lines, steps=steps, preps=preps)
    return _pick(wave=wave, code=code, quantity=quantity, bin_confirmed=bin_confirmed, actor=actor)


def _aim(
    *, wave: Wave, lines: list[PreparationLine], code: str, bin_confirmed: str
) -> tuple[list[PickStep], PickStep | None]:
    """The wave's pick list and, for a product scan, its step (``None``: the scan is the current step's
    bin); every refusal a scan gets before its quantity is looked at. The scanned code is matched against
    the copies of the SKU and EAN on the wave's lines first: the catalogue is read only for a code none of
    them has (an unknown code, a product not in the wave, an EAN changed since the order came in)."""
    steps = wave_pick_steps(wave=wave, lines=lines)
    step = next((s for s in steps if not s.done), None)
    if step is None:
        raise PickRefused(_("Wave %(wave)s is fully picked.") % {"wave": wave.code}, code="wave_closed")
    scanned = _normalise(code)
    if not scanned:
        raise PickRefused(_("Scan a bin or a product."), code="empty_scan")
    if step.bin_code and scanned == step.bin_code.upper():
        return steps, None
    if any(s.bin_code and s.bin_code.upper() == scanned for s in steps):
        raise PickRefused(
            _("This is bin %(scanned)s. Go to bin %(bin)s first for %(sku)s.")
            % {"scanned": scanned, "bin": step.bin_code or "—", "sku": step.sku},
            code="wrong_bin",
            details={"expected": step.bin_code, "scanned": scanned},
        )
    named = next((s for s in steps if code_names(scanned, sku=s.sku, ean=s.ean)), None)
    if named is not None:
        product_id, sku = named.product_id, named.sku
    else:
        product = product_by_code(code=scanned)
        if product is None:
            raise PickRefused(
                _("Nothing is known by the code %(code)s. Scan the bin or the product's barcode.")
                % {"code": scanned},
                code="unknown_code",
            )
        product_id, sku = product.pk, product.sku
    if product_id != step.product_id:
        if product_id in {s.product_id for s in steps}:
            message = _("This is %(scanned)s. Pick %(sku)s from bin %(bin)s first.")
        else:
            message = _("%(scanned)s is not in this wave. Pick %(sku)s from bin %(bin)s.")
        raise PickRefused(
            message % {"scanned": sku, "sku": step.sku, "bin": step.bin_code or "—"},
            code="wrong_product",
            details={"expected": step.sku, "scanned": sku},
        )
    if step.bin_code and _normalise(bin_confirmed) != step.bin_code.upper():
        raise PickRefused(
            _("Scan bin %(bin)s first, then the product.") % {"bin": step.bin_code}, code="scan_bin_first"
        )
    return steps, step


def _bin_confirmed(
    *, wave: Wave, lines: list[PreparationLine], steps: list[PickStep], preps: dict[int, Preparation]
) -> PickOutcome:
    step = next(s for s in steps if not s.done)
    return PickOutcome(
        kind="bin",
        message=_("Bin %(bin)s confirmed: now scan %(sku)s.") % {"bin": step.bin_code, "sku": step.sku},
        step=step,
        wave=wave,
        steps=steps,
        progress=wave_progress_of(lines=lines, preparations=preps.values()),
    )


@transaction.atomic
def _pick(*, wave: Wave, code: str, quantity: int, bin_confirmed: str, actor) -> PickOutcome:
    wave, locked = _check_locked(wave=wave, actor=actor)
    lines = wave_pick_lines(wave=wave)  # read once: the current step and the wrong-scan checks use it
    steps, step = _aim(wave=wave, lines=lines, code=code, bin_confirmed=bin_confirmed)
    if step is None:  # the bin scanned again
        return _bin_confirmed(wave=wave, lines=lines, steps=steps, preps=locked)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise PickRefused(_("Pick at least one unit."), code="invalid_quantity")
    if quantity > step.left:
        raise PickRefused(
            _("Only %(left)s × %(sku)s are left to pick in this wave, not %(quantity)s.")
            % {"left": step.left, "sku": step.sku, "quantity": quantity},
            code="over_pick",
            details={"left": step.left, "quantity": quantity},
        )
    remaining = quantity
    totes = []
    touched = set()
    # The step's lines as read above, not locked again: every preparation of the wave is locked since before
    # that read (``_check_locked``), and every writer of a preparation line locks its preparation first
    # (picking, packing, the sync and cancel from ``orders``, the wave release, the outsourced WMS), so
    # nobody can have changed them since (bench/README.md, "Sessions and the user per request, kept a
    # minute"). Their UPDATE takes the row lock anyway.
    by_id = {line.pk: line for line in lines}
    for target in step.targets:
        if remaining == 0:
            break
        line = by_id[target.line_id]
        take = min(remaining, line.quantity - line.picked)
        if take <= 0:
            continue
        line.picked += take
        line.save(update_fields=["picked"])
        ScanEvent.objects.create(
            line=line,
            action=ScanEvent.Action.PICK,
            quantity=take,
            actor=actor if getattr(actor, "pk", None) else None,
        )
        totes.append((target.tote, target.order_number, take))
        touched.add(line.preparation_id)
        remaining -= take
    # the touched preparations as locked by ``_check_locked`` (not read again), in id order
    touched_preps = [locked[pk] for pk in sorted(touched)]
    _start(wave=wave, preps=touched_preps, actor=actor)
    # The wave's lines after the writes, without reading them again: the scanned ones as written here, the
    # others as read above (see above: nobody else writes them while the preparations are locked).
    done, steps = _finish(wave=wave, preps=touched_preps, actor=actor, lines=lines)
    text = "; ".join(
        _("%(units)s in tote %(tote)s (%(order)s)") % {"units": u, "tote": t, "order": o} for t, o, u in totes
    )
    return PickOutcome(
        kind="pick",
        message=_("%(quantity)s × %(sku)s picked: %(where)s.")
        % {"quantity": quantity, "sku": step.sku, "where": text},
        step=step,
        quantity=quantity,
        totes=totes,
        wave_done=done,
        wave=wave,
        steps=steps,
        progress=wave_progress_of(lines=lines, preparations=locked.values()),
    )


@transaction.atomic
def pick_short(*, wave: Wave, product_id: int, quantity: int, reason: str, actor=None) -> PickOutcome:
    """Units of the current product are missing or damaged: they are written off the location's stock
    (with the reason in the ledger) and their orders' lines are re-sourced by ``orders`` (another location,
    or awaiting stock), the timeline saying so."""
    wave = _check(wave=wave, actor=actor)
    if reason not in SHORT_REASONS:
        raise PickRefused(_("Say whether the units are missing or damaged."), code="invalid_reason")
    step = next((s for s in wave_pick_steps(wave=wave) if s.product_id == product_id), None)
    if step is None or step.done:
        raise PickRefused(_("Nothing of this product is left to pick in this wave."), code="nothing_to_pick")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0 or quantity > step.left:
        raise PickRefused(
            _("Report between 1 and %(left)s unit(s) short.") % {"left": step.left},
            code="invalid_quantity",
            details={"left": step.left},
        )
    remaining = quantity
    touched = set()
    lines = lock_lines([t.line_id for t in step.targets])
    for target in reversed(step.targets):  # the last totes give up their units first
        if remaining == 0:
            break
        line = lines[target.line_id]
        take = min(remaining, line.quantity - line.picked)
        if take <= 0:
            continue
        inventory_services.allocations_short(
            line_id=line.order_line_id,
            product_id=line.product_id,
            location_id=wave.location_id,
            quantity=take,
            reason_code=SHORT_REASONS[reason],
            actor=actor,
            reference=line.preparation.order_number,
            note=_("Short pick in wave %(wave)s") % {"wave": wave.code},
        )
        # The units are no longer this line's to pick (inventory shrank the allocation here in this same
        # transaction); the order's owner re-sources them after commit and re-syncs the preparations.
        line.short += take
        line.quantity -= take
        line.save(update_fields=["short", "quantity"])
        ScanEvent.objects.create(
            line=line,
            action=ScanEvent.Action.SHORT,
            quantity=take,
            reason=reason,
            actor=actor if getattr(actor, "pk", None) else None,
        )
        preparation_event(
            "pick.shorted",
            prep=line.preparation,
            actor=actor,
            line_id=line.order_line_id,
            product_id=line.product_id,
            sku=line.sku,
            quantity=take,
            reason=reason,
        )
        touched.add(line.preparation_id)
        remaining -= take
    _start(wave=wave, preps=[], actor=actor)
    done, _steps = _finish(wave=wave, preps=lock_preparations(ids=touched), actor=actor)
    return PickOutcome(
        kind="short",
        message=_("%(quantity)s × %(sku)s reported %(reason)s; the order is re-sourced.")
        % {
            "quantity": quantity,
            "sku": step.sku,
            "reason": _("missing") if reason == "missing" else _("damaged"),
        },
        step=step,
        quantity=quantity,
        wave_done=done,
    )


@transaction.atomic
def pick_undo(*, wave: Wave, actor=None) -> ScanEvent | None:
    """Undo the user's last pick in this wave (a short pick cannot be undone: the stock was written off)."""
    wave = _check(wave=wave, actor=actor)
    scan = lock_last_scan(
        ScanEvent.objects.filter(
            line__preparation__wave=wave,
            action=ScanEvent.Action.PICK,
            undone_at__isnull=True,
            actor=actor if getattr(actor, "pk", None) else None,
        ).select_related("line__preparation")
    )
    if scan is None:
        raise PickRefused(_("There is no pick of yours to undo in this wave."), code="nothing_to_undo")
    line = lock_lines([scan.line_id])[scan.line_id]
    if line.picked - scan.quantity < line.packed:
        raise PickRefused(_("These units are already packed."), code="already_packed")
    line.picked -= scan.quantity
    line.save(update_fields=["picked"])
    scan.undone_at = timezone.now()
    scan.save(update_fields=["undone_at"])
    prep = line.preparation
    if prep.status not in Preparation.OPEN:
        prep.status = PreparationStatus.PICKING
        prep.save(update_fields=["status"])
    return scan


@transaction.atomic
def pick_put_back_confirm(*, line_id: int, actor=None) -> str:
    """The picker put back in its bin the units of a line picked and then cancelled (``put_back``): the
    count goes to zero, a scan row says who did it, and the order's timeline hears it. Stock needs no
    movement: the cancellation gave the reservation back already, and picking consumes nothing. Refused when
    nothing is left to put back (confirmed twice, from two screens) or the line is at another location."""
    line = PreparationLine.objects.filter(pk=line_id).only("preparation_id").first()
    if line is None:
        raise PickRefused(_("Nothing to put back on this line."), code="nothing_to_put_back")
    prep = lock_preparation(line.preparation_id)  # the preparation, then its line (the lock order)
    if actor is not None and not user_may_act_at(user=actor, location_id=prep.location_id):
        raise PickRefused(
            _("These units go back to a bin at %(location)s, not at your locations.")
            % {"location": prep.location.name},
            code="other_location",
        )
    line = lock_lines([line_id])[line_id]
    units = line.put_back
    if units <= 0:
        raise PickRefused(_("Nothing to put back on this line."), code="nothing_to_put_back")
    line.put_back = 0
    line.save(update_fields=["put_back"])
    put_backs_changed()
    ScanEvent.objects.create(
        line=line,
        action=ScanEvent.Action.PUT_BACK,
        quantity=units,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    preparation_event(
        "pick.put_back", prep=prep, actor=actor, sku=line.sku, quantity=units, bin=line.bin_code
    )
    if line.bin_code:
        return _("%(units)s × %(sku)s put back to bin %(bin)s.") % {
            "units": units,
            "sku": line.sku,
            "bin": line.bin_code,
        }
    return _("%(units)s × %(sku)s put back on the shelf.") % {"units": units, "sku": line.sku}
