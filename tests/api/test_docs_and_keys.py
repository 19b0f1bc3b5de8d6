"""The API's schema and docs pages are served offline (drf-spectacular-sidecar assets, nothing fetched from
another host), the schema is valid, and ``create_api_key`` prints the key alone and stores its hash only."""

import json
import re
from io import StringIO

import pytest
from django.contrib.staticfiles import finders
from django.core.management import CommandError, call_command

from orders.models import ApiKey

from .conftest import Api
from .factories import ChannelFactory

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
# Every operation of DESIGN.md's table.
OPERATIONS = {
    ("/api/v1/locations/", "get"),
    ("/api/v1/products/", "post"),
    ("/api/v1/products/{sku}/", "get"),
    ("/api/v1/stock/movements/", "post"),
    ("/api/v1/stock/incoming/", "post"),
    ("/api/v1/stock/incoming/", "get"),
    ("/api/v1/stock/incoming/{id}/receive/", "post"),
    ("/api/v1/stock/", "get"),
    ("/api/v1/availability/", "get"),
    ("/api/v1/promise/", "get"),
    ("/api/v1/orders/", "post"),
    ("/api/v1/orders/{number}/", "get"),
    ("/api/v1/orders/{number}/cancel/", "post"),
}


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_docs_pages_are_served_with_local_assets_only(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    if path == "/api/v1/docs/":  # Swagger UI's start-up script (a file of its own) names the schema
        assert 'url: "/api/v1/schema/"' in client.get(f"{path}?script=").content.decode()
    else:
        assert "/api/v1/schema/" in html
    assets = ASSET.findall(html)
    assert any(a.startswith("/static/drf_spectacular_sidecar/") for a in assets), "the page loads its viewer"
    for asset in assets:
        if asset == f"{path}?script=":  # Swagger UI's start-up script, served by the page's own view
            continue
        assert asset.startswith("/static/"), f"{asset} is not served by us"
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is missing"
    assert "https://" not in html and "http://" not in html
    assert "<script>" not in html and "<style" not in html  # nothing inline (Content-Security-Policy)


def test_swagger_ui_start_up_script_is_a_file_of_its_own(client):
    response = client.get("/api/v1/docs/?script=")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript"
    assert 'url: "/api/v1/schema/"' in response.content.decode()


def test_the_schema_is_served_without_a_key_and_lists_every_operation(client):
    response = client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    operations = {(path, method) for path, methods in schema["paths"].items() for method in methods}
    assert operations >= OPERATIONS
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A channel's API key: `Bearer oms_...`.",
    }


def test_the_schema_is_valid_and_has_no_warning(tmp_path):
    # The same as `manage.py spectacular --validate --fail-on-warn`, which fails on any warning.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


def test_create_api_key_prints_the_key_alone_and_stores_its_hash(db):
    channel = ChannelFactory(code="web")
    out, err = StringIO(), StringIO()
    call_command("create_api_key", "web", "--scopes", "orders,stock", stdout=out, stderr=err)
    raw = out.getvalue()
    assert raw.endswith("\n") and raw.count("\n") == 1
    raw = raw.strip()
    assert re.fullmatch(r"oms_[A-Za-z0-9_\-]{43}", raw)
    assert err.getvalue() == ""

    key = ApiKey.objects.get()
    assert key.channel == channel
    assert key.scopes == ["orders", "stock"]
    assert key.hashed_key == ApiKey.hash(raw) != raw
    assert key.prefix == raw[:12]
    stored = [str(v) for v in ApiKey.objects.values().get().values()]
    assert not any(raw in value for value in stored), "the key itself is stored"

    api = Api(raw)
    assert api.get("/availability/", {"sku": "X"}).status_code == 200
    assert api.get("/products/").status_code == 403  # no catalog scope


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "No channel with code 'nope'."),
        (
            ["web", "--scopes", "orders,admin"],
            "Scopes must be among orders, catalog, stock, all; got orders, admin.",
        ),
        (["web", "--scopes", ","], "Scopes must be among orders, catalog, stock, all; got none."),
    ],
)
def test_create_api_key_refuses_and_creates_nothing(db, args, message):
    ChannelFactory(code="web")
    out = StringIO()
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("create_api_key", *args, stdout=out)
    assert out.getvalue() == ""
    assert not ApiKey.objects.exists()
