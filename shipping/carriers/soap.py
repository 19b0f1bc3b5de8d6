"""A small SOAP 1.1 toolkit for the carriers that only speak SOAP (DPD France, Chronopost): build an
envelope from nested dicts, read an answer with entities and network access off, turn a ``soap:Fault``
into a typed error."""

from __future__ import annotations

from xml.sax.saxutils import escape

from lxml import etree

from .base import PermanentCarrierError, RetryableCarrierError

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _fields(values, prefix: str) -> str:
    parts = []
    for name, value in values.items():
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            inner = _fields(item, prefix) if isinstance(item, dict) else escape(str(item))
            parts.append(f"<{prefix}{name}>{inner}</{prefix}{name}>")
    return "".join(parts)


def envelope(action: str, body: dict, *, ns: str, header: dict | None = None, qualified=True) -> bytes:
    """``<soap:Envelope>`` with ``<action xmlns=ns>`` holding ``body`` (nested dicts; lists repeat an
    element; ``None`` is left out). Children are in ``ns`` when ``qualified``, unqualified otherwise."""
    prefix = "n:" if qualified else ""
    head = f"<soap:Header>{_fields(header, 'n:')}</soap:Header>" if header else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:n="{ns}">{head}'
        f"<soap:Body><n:{action}>{_fields(body, prefix)}</n:{action}></soap:Body></soap:Envelope>"
    ).encode()


def parse(adapter, response) -> etree._Element:
    """The answer's XML root; a SOAP fault raises ``PermanentCarrierError`` with the fault's text."""
    try:
        root = etree.fromstring(response.content, parser=_PARSER)  # noqa: S320 - entities and network off
    except etree.XMLSyntaxError as exc:
        raise RetryableCarrierError(
            f"{adapter.name}'s answer could not be read.", carrier=adapter.code, code="bad_answer"
        ) from exc
    fault = root.find(f".//{{{SOAP_NS}}}Fault")
    if fault is not None:
        message = (fault.findtext("faultstring") or "").strip() or "SOAP fault"
        code = (fault.findtext("faultcode") or "").strip()
        # SOAP 1.1 services answer HTTP 500 for every fault, business refusals included: a fault is the
        # carrier's word on this request (callers leave 502-504 to the retry path of ``request``).
        raise PermanentCarrierError(
            message, carrier=adapter.code, code=code.split(":")[-1] or "fault", status=response.status_code
        )
    return root


def fault_message(response) -> str:
    try:
        root = etree.fromstring(response.content, parser=_PARSER)  # noqa: S320
    except etree.XMLSyntaxError:
        return ""
    fault = root.find(f".//{{{SOAP_NS}}}Fault")
    return (fault.findtext("faultstring") or "").strip() if fault is not None else ""


def local(node, name: str):
    """The first descendant named ``name`` whatever its namespace."""
    for child in node.iter():
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            return child
    return None


def local_all(node, name: str) -> list:
    return [c for c in node.iter() if isinstance(c.tag, str) and etree.QName(c).localname == name]


def text(node, name: str) -> str:
    child = local(node, name) if node is not None else None
    return (child.text or "").strip() if child is not None and child.text else ""
