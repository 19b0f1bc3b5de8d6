from django.urls import reverse
from django.utils import timezone

from oms.roles import WAREHOUSE_STAFF


def test_login_page_in_french_by_default(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'lang="fr"' in response.content.decode()
    assert "Se connecter" in response.content.decode()


def test_login_with_bad_password_says_so(client, role_users):
    response = client.post(reverse("login"), {"username": "wh", "password": "wrong"})
    assert response.status_code == 200
    assert "Saisissez un nom" in response.content.decode()  # Django's French message


def test_login_then_dashboard(client, role_users):
    response = client.post(reverse("login"), {"username": "wh", "password": "s3cret-pass!"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert "Tableau de bord" in response.content.decode()
    assert "Entrepôt Lyon" in response.content.decode()
    assert "Magasin Paris" not in response.content.decode()  # not this user's location


def test_switch_to_english(client, role_users):
    client.force_login(role_users[WAREHOUSE_STAFF])
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"}, follow=True)
    html = response.content.decode()
    assert 'lang="en"' in html
    assert "Dashboard" in html


def test_logout_is_a_post(client, role_users):
    client.force_login(role_users[WAREHOUSE_STAFF])
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_password_change(client, role_users):
    client.force_login(role_users[WAREHOUSE_STAFF])
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "s3cret-pass!",
            "new_password1": "An0ther-Secret!",
            "new_password2": "An0ther-Secret!",
        },
        follow=True,
    )
    assert response.status_code == 200
    role_users[WAREHOUSE_STAFF].refresh_from_db()
    assert role_users[WAREHOUSE_STAFF].check_password("An0ther-Secret!")


def test_password_change_error_is_shown_on_the_form(client, role_users):
    client.force_login(role_users[WAREHOUSE_STAFF])
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "An0ther-Secret!", "new_password2": "An0ther-Secret!"},
    )
    assert response.status_code == 200
    assert "form-errors" in response.content.decode()
    role_users[WAREHOUSE_STAFF].refresh_from_db()
    assert role_users[WAREHOUSE_STAFF].check_password("s3cret-pass!")


def test_times_are_shown_in_paris():
    assert timezone.get_current_timezone_name() == "Europe/Paris"
