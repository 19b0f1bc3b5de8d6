"""A label of each carrier, rendered by the sandbox playing it, at A6 and 4×6 in: the PDF's page size is
checked, the page is turned into a PNG (pdftoppm, kept in tests/shipping/artifacts/ to be looked at), and
the ZPL twin goes through a ZPL parser (fields closed, inside the label, barcode = tracking number)."""

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from shipping.carriers import get_adapter
from shipping.models import Carrier

from .carrier_fixtures import GENEVA, customs_declaration, label_request
from .zpl import ZplError, parse

ARTIFACTS = Path(__file__).parent / "artifacts"
CARRIERS = ["colissimo", "chronopost", "fedex", "ups", "dpd_fr", "gls", "dhl_express", "mondial_relay"]
# Page sizes in PDF points (1/72 in): A6 is 105 × 148 mm, 4×6 in is 288 × 432.
SIZES = {"a6": (297.6, 419.5), "4x6": (288.0, 432.0)}
# ZPL at 203 dpi: width × length in dots.
DOTS = {"a6": (838, 1181), "4x6": (812, 1218)}


def played(adapter: str):
    return get_adapter(Carrier(code=adapter, name=adapter, adapter=adapter, sandbox=True))


@pytest.mark.parametrize("size", ["a6", "4x6"])
@pytest.mark.parametrize("adapter", CARRIERS)
def test_label_of_each_carrier_at_each_size(adapter, size):
    sandbox = played(adapter)
    request = label_request(
        recipient=GENEVA if adapter in ("fedex", "ups", "dhl_express") else label_request().recipient,
        label_size=size,
        formats=("pdf", "zpl"),
        customs=customs_declaration() if adapter in ("fedex", "ups", "dhl_express") else None,
        brand_text="Merci ! -10 % avec MERCI10",
    )
    label = sandbox.create_label(request)
    # the carrier's own number format and name
    assert label.tracking_number == sandbox.tracking_number_for(request.reference)
    page = PdfReader(io.BytesIO(label.pdf)).pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width, 1), round(height, 1)) == pytest.approx(SIZES[size], abs=0.6)
    text = page.extract_text()
    assert sandbox.played.name.upper() in text and label.tracking_number in text
    (zpl,) = parse(label.zpl)
    assert (zpl.width, zpl.length) == DOTS[size]
    assert zpl.barcodes == [label.tracking_number]
    assert sandbox.played.name.upper() in zpl.texts
    branded = adapter in ("dpd_fr", "dhl_express")  # the carriers whose labels have a free area
    assert ("Merci ! -10 % avec MERCI10" in zpl.texts) is branded
    assert ("MERCI10" in text) is branded
    if shutil.which("pdftoppm"):
        ARTIFACTS.mkdir(exist_ok=True)
        pdf = ARTIFACTS / f"label-{adapter}-{size}.pdf"
        pdf.write_bytes(label.pdf)
        subprocess.run(  # noqa: S603 - fixed arguments
            ["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(pdf.with_suffix(""))], check=True
        )
        assert pdf.with_suffix(".png").stat().st_size > 1000


def test_the_zpl_parser_refuses_broken_labels():
    with pytest.raises(ZplError, match="not closed"):
        parse("^XA^FO10,10^FDopen^XZ")
    with pytest.raises(ZplError, match="outside the label"):
        parse("^XA^PW812^LL1218^FO900,10^FDx^FS^XZ")
    with pytest.raises(ZplError, match="bad arguments"):
        parse("^XA^BCN,abc,Y,N,N^FD1^FS^XZ")
    with pytest.raises(ZplError, match="unknown command"):
        parse("^XA^QQ^XZ")
    with pytest.raises(ZplError, match="not closed by \\^XZ"):
        parse("^XA^FO1,1^FDx^FS")
