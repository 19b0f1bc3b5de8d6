"""Mondial Relay tracing (WSI2_TracingColisDetaille) and return labels (WSI2_CreationEtiquette)."""

import httpx
import pytest
import respx
from lxml import etree

from shipping.carriers import PermanentCarrierError, get_adapter
from shipping.carriers.mondial_relay import API_URL, NS, SITE_URL, TRACE_PARAMS, security, trace_code

from .carrier_fixtures import label_request

CONFIG = {"enseigne": "BDTEST13", "private_key": "PrivateK"}


def tracing(stat: str, events: list[tuple[str, str, str, str]]) -> str:
    items = "".join(
        f"<ret_WSI2_sub_TracingColisDetaille><Libelle>{label}</Libelle><Date>{day}</Date><Heure>{hour}</Heure>"
        f"<Lieu>{place}</Lieu><Relais></Relais><Pays>FR</Pays></ret_WSI2_sub_TracingColisDetaille>"
        for label, day, hour, place in events
    )
    return f"""<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
<soap:Body><WSI2_TracingColisDetailleResponse xmlns="{NS}"><WSI2_TracingColisDetailleResult>
<STAT>{stat}</STAT>
<Libelle01>Colis</Libelle01><Tracing>{items}</Tracing></WSI2_TracingColisDetailleResult>
</WSI2_TracingColisDetailleResponse></soap:Body></soap:Envelope>"""


@pytest.fixture
def mondial_relay():
    return get_adapter("mondial_relay", config=CONFIG)


@respx.mock
def test_tracing_events_are_coded_from_their_wording(mondial_relay):
    route = respx.post(API_URL).mock(
        return_value=httpx.Response(
            200,
            text=tracing(
                "82",
                [
                    ("Prise en charge en Point Relais", "25/11/26", "17:42", "LYON"),
                    ("Colis en cours d'acheminement", "26/11/26", "03:10", "HUB LYON"),
                    ("Disponible au Point Relais", "27/11/26", "09:20", "PARIS"),
                    ("Colis récupéré par le destinataire", "28/11/26", "15:05", "PARIS"),
                ],
            ),
        )
    )
    (update,) = mondial_relay.track(["12345678"])
    assert [(e.code, e.status) for e in update.events] == [
        ("MR_TAKEN", "handed_over"),
        ("MR_TRANSIT", "in_transit"),
        ("MR_AVAILABLE", "available_for_pickup"),
        ("MR_COLLECTED", "delivered"),
    ]
    assert update.final and update.events[0].place == "LYON FR"
    root = etree.fromstring(route.calls.last.request.content)
    values = {name: root.find(f".//{{{NS}}}{name}").text or "" for name in TRACE_PARAMS}
    assert values == {"Enseigne": "BDTEST13", "Expedition": "12345678", "Langue": "FR"}
    assert root.find(f".//{{{NS}}}Security").text == security(values, "PrivateK", TRACE_PARAMS)


@respx.mock
def test_tracing_stat_80_is_an_answer_and_24_an_unknown_parcel(mondial_relay):
    respx.post(API_URL).mock(
        side_effect=[
            httpx.Response(200, text=tracing("80", [])),
            httpx.Response(200, text=tracing("24", [])),
        ]
    )
    (registered,) = mondial_relay.track(["12345678"])
    assert registered.error == "" and registered.events == [] and not registered.final
    (unknown,) = mondial_relay.track(["00000000"])
    assert unknown.error == "Invalid shipment or tracking number."


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("Colis enregistré", "MR_REGISTERED"),
        ("Colis déposé en Point Relais", "MR_TAKEN"),
        ("EN COURS DE LIVRAISON", "MR_OUT"),
        ("Colis livré au destinataire", "MR_DELIVERED"),
        ("Anomalie : adresse incomplète", "MR_ANOMALY"),
        ("Retour à l'expéditeur", "MR_RETURN"),
        ("Information transmise", "MR_OTHER"),
    ],
)
def test_trace_wording_table(label, code):
    assert trace_code(label) == code


@respx.mock
def test_return_label_is_collected_in_any_relay_and_delivered_to_the_merchant(mondial_relay):
    route = respx.post(API_URL).mock(
        return_value=httpx.Response(
            200,
            text=f"""<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
<soap:Body><WSI2_CreationEtiquetteResponse xmlns="{NS}"><WSI2_CreationEtiquetteResult><STAT>0</STAT>
<ExpeditionNum>31236189</ExpeditionNum><URL_Etiquette>/ww2/PDF/StickerMaker2.aspx?ens=BDTEST13&amp;expedition=31236189&amp;format=A4</URL_Etiquette>
</WSI2_CreationEtiquetteResult></WSI2_CreationEtiquetteResponse></soap:Body></soap:Envelope>""",
        )
    )
    respx.get(url__startswith=SITE_URL).mock(return_value=httpx.Response(200, content=b"%PDF-1.4 mr"))
    label = mondial_relay.create_return_label(label_request(formats=("pdf",)))
    assert label.tracking_number == "31236189"
    root = etree.fromstring(route.calls.last.request.content)
    text = lambda name: root.find(f".//{{{NS}}}{name}").text  # noqa: E731
    assert (text("ModeCol"), text("ModeLiv"), text("COL_Rel"), text("COL_Rel_Pays")) == (
        "REL",
        "LCC",
        "AUTO",
        "FR",
    )


def test_zpl_is_refused_by_mondial_relay(mondial_relay):
    with pytest.raises(PermanentCarrierError):
        mondial_relay.create_return_label(label_request(formats=("zpl",)))
