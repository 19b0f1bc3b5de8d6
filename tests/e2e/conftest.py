"""Browser tests: Playwright for Python driving Debian's chromium (never a downloaded browser) against
pytest-django's live server. Screenshots go to tests/e2e/artifacts/ (ignored by git); the few shown in
docs/ are copied there only with ``OMS_UPDATE_DOCS=1``, so a test run leaves the working tree clean."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DOCS = Path(__file__).resolve().parents[2] / "docs"
UPDATE_DOCS = os.environ.get("OMS_UPDATE_DOCS", "").lower() in ("1", "true", "yes")

# The sync Playwright API runs an event loop in this thread; the ORM is used beside it on purpose.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    if IN_CI:
        raise pytest.UsageError(f"CI needs {CHROMIUM} for the browser tests (apt-get install chromium)")
    skip = pytest.mark.skip(reason=f"browser tests need Debian's chromium at {CHROMIUM}")
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def screenshot(page):
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def docs_image():
    """``docs_image(screenshot_path, "name.png")``: the screenshot becomes docs/name.png when the run was
    asked to refresh the documentation's images (``OMS_UPDATE_DOCS=1``); otherwise it stays an artefact."""

    def publish(path: Path, name: str) -> None:
        if UPDATE_DOCS:
            shutil.copy(path, DOCS / name)

    return publish


@pytest.fixture
def login(page, live_server):
    def do(username: str, password: str = "s3cret-pass!"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")

    return do


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A French shop floor: the browser asks for French, as the staff's handhelds do.
    return {**browser_context_args, "locale": "fr-FR", "timezone_id": "Europe/Paris"}
