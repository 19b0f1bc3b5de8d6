"""Carrier settings pages: credentials per carrier (secrets write-only, over the environment), the return
label per channel, the merchant's branding and its previews."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import translation
from PIL import Image
from pypdf import PdfReader

from oms.roles import MANAGER
from shipping.carriers import adapter_config, get_adapter
from shipping.models import Carrier, CarrierAccount, ChannelShippingSettings, DocumentBranding
from tests.oms.factories import UserFactory
from tests.orders.factories import ChannelFactory


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def manager(db, client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the pages in English, as the assertions
    user = UserFactory(username="boss", role=MANAGER)
    client.force_login(user)
    return user


def test_credentials_are_saved_and_secrets_never_shown_again(manager, client, settings):
    settings.FEDEX_ACCOUNT_NUMBER = "from-env"
    settings.FEDEX_CLIENT_ID = "env-client"
    url = reverse("shipping:account_edit", args=["fedex"])
    response = client.post(
        url, {"client_id": "form-client", "client_secret": "TopSecret-42", "account_number": ""}
    )
    assert response.status_code == 302
    account = CarrierAccount.objects.get(adapter="fedex")
    assert account.values == {"client_id": "form-client", "account_number": ""}
    assert json.loads(account.secrets) == {"client_secret": "TopSecret-42"}
    assert account.updated_by == manager
    with connection.cursor() as cursor:  # encrypted at rest: the table never holds the secret
        cursor.execute("SELECT secrets FROM shipping_carrieraccount WHERE id = %s", [account.pk])
        raw = cursor.fetchone()[0]
    assert "TopSecret-42" not in raw and raw.startswith("gAAAA")
    page = client.get(url).content.decode()
    assert "TopSecret-42" not in page and "Stored: leave empty to keep it." in page
    assert 'value="form-client"' in page
    # the form's values win over the environment's; empty ones leave the environment's
    config = adapter_config("fedex")
    assert (config["client_id"], config["client_secret"], config["account_number"]) == (
        "form-client",
        "TopSecret-42",
        "from-env",
    )
    # a secret left empty keeps the stored one
    client.post(
        url,
        {"client_id": "form-client", "client_secret": "", "account_number": "740561073", "test_mode": "on"},
    )
    account.refresh_from_db()
    assert json.loads(account.secrets) == {"client_secret": "TopSecret-42"} and account.test_mode
    adapter = get_adapter(Carrier(code="fedex", name="FedEx", adapter="fedex"))
    assert adapter.api_root == "https://apis-sandbox.fedex.com"
    listing = client.get(reverse("shipping:account_list")).content.decode()
    assert "FedEx" in listing and "TopSecret-42" not in listing


def test_an_unknown_carrier_has_no_form(manager, client):
    assert client.get(reverse("shipping:account_edit", args=["pigeon"])).status_code == 404
    assert client.get(reverse("shipping:account_edit", args=["sandbox"])).status_code == 404


def test_return_labels_per_channel(manager, client):
    channel = ChannelFactory(code="shop", name="Boutique")
    ups = Carrier.objects.create(code="ups", name="UPS", adapter="ups")
    dhl = Carrier.objects.create(code="dhl", name="DHL tracking", adapter="dhl")
    url = reverse("shipping:channel_returns")
    assert "Boutique" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "channel": channel.pk,
            f"c{channel.pk}-return_label_in_parcel": "on",
            f"c{channel.pk}-return_carrier": dhl.pk,
        },
    )
    assert response.status_code == 422
    assert "DHL tracking makes no return labels" in response.content.decode()
    assert not ChannelShippingSettings.objects.exists()
    response = client.post(
        url,
        {
            "channel": channel.pk,
            f"c{channel.pk}-return_label_in_parcel": "on",
            f"c{channel.pk}-return_carrier": ups.pk,
        },
    )
    assert response.status_code == 302
    setting = ChannelShippingSettings.objects.get(channel=channel)
    assert setting.return_label_in_parcel and setting.return_carrier == ups


def png(color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (240, 80), color).save(out, "PNG")
    return out.getvalue()


def test_branding_saved_and_previewed(manager, client):
    url = reverse("shipping:branding")
    response = client.post(
        url,
        {
            "primary_color": "#aa3300",
            "accent_color": "#fff4e8",
            "slip_message": "Merci ! Code MERCI10 : -10 % sur votre prochaine commande.",
            "label_text": "Boutique Exemple · merci !",
            "logo": SimpleUploadedFile("logo.png", png(), content_type="image/png"),
        },
    )
    assert response.status_code == 302
    branding = DocumentBranding.objects.get(pk=1)
    assert branding.primary_color == "#aa3300" and branding.logo.name.startswith("branding/")
    page = client.get(url).content.decode()
    assert 'data-brand-primary="#aa3300"' in page and "data:image/png;base64," in page
    assert "style=" not in page.split("<main", 1)[-1]  # no inline styles (CSP)
    slip = client.get(reverse("fulfillment:slip_preview"))
    assert slip.status_code == 200
    text = PdfReader(io.BytesIO(slip.content)).pages[0].extract_text()
    assert "MERCI10" in text
    assert client.get(reverse("fulfillment:pick_list_preview")).content.startswith(b"%PDF")
    for size, points in (("a6", (298, 420)), ("4x6", (288, 432))):
        label = client.get(reverse("shipping:branding_label") + f"?size={size}")
        page_ = PdfReader(io.BytesIO(label.content)).pages[0]
        assert (round(float(page_.mediabox.width)), round(float(page_.mediabox.height))) == points
        assert "Boutique Exemple · merci !" in page_.extract_text()


def test_bad_colours_are_refused_with_nothing_saved(manager, client):
    response = client.post(reverse("shipping:branding"), {"primary_color": "red", "accent_color": "#ffffff"})
    assert response.status_code == 400
    assert "A colour is # followed by 6 hexadecimal digits." in response.content.decode()
    assert not DocumentBranding.objects.exists()
