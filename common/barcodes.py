"""Code 128 barcodes as SVG data URIs, for PDFs (WeasyPrint) and pages."""

import base64
import io

import barcode
from barcode.writer import SVGWriter


def code128_svg(value: str, *, module_height: float = 9.0, module_width: float = 0.25) -> bytes:
    out = io.BytesIO()
    barcode.get("code128", value, writer=SVGWriter()).write(
        out,
        options={
            "write_text": False,
            "module_height": module_height,
            "module_width": module_width,
            "quiet_zone": 2,
        },
    )
    return out.getvalue()


def code128_data_uri(value: str, **options) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(code128_svg(value, **options)).decode()
