import pytest


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Documents are written under a temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def entity(db):
    from tests.invoicing.factories import LegalEntityFactory

    return LegalEntityFactory()


@pytest.fixture
def manager(db):
    from oms.roles import MANAGER
    from tests.oms.factories import UserFactory

    return UserFactory(username="mgr", role=MANAGER)
