"""The merchant's branding on documents (packing slips, pick lists, labels' free area): read from the one
``DocumentBranding`` row, with the merchant's name from the settings."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from django.conf import settings

from .models import DocumentBranding

DEFAULT = DocumentBranding(pk=1)


@dataclass(frozen=True)
class LabelBrand:
    text: str = ""
    logo_png: bytes | None = None


def branding_current() -> DocumentBranding:
    return DocumentBranding.objects.filter(pk=1).first() or DEFAULT


def _logo_png(branding: DocumentBranding, *, max_px: int = 400) -> bytes | None:
    """The logo as a small PNG (carriers that print one want PNG, and a small one)."""
    if not branding.logo:
        return None
    from PIL import Image

    try:
        with branding.logo.open("rb") as handle:
            picture = Image.open(handle)
            picture.load()
    except (OSError, ValueError):
        return None
    picture.thumbnail((max_px, max_px))
    if picture.mode not in ("RGB", "RGBA", "L"):
        picture = picture.convert("RGBA")
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def label_branding(branding: DocumentBranding | None = None) -> LabelBrand:
    branding = branding or branding_current()
    return LabelBrand(text=branding.label_text, logo_png=_logo_png(branding))


def document_branding(branding: DocumentBranding | None = None) -> dict:
    """What the document templates use: ``{merchant, logo (data URI or ""), primary, accent, message}``."""
    branding = branding or branding_current()
    png = _logo_png(branding)
    return {
        "merchant": settings.MERCHANT_NAME,
        "logo": "data:image/png;base64," + base64.b64encode(png).decode() if png else "",
        "primary": branding.primary_color,
        "accent": branding.accent_color,
        "message": branding.slip_message,
        "label_text": branding.label_text,
    }
