"""What a first run shows: the closing lines of `make run`, the favicon, the quiet local settings."""

from django.core.management import call_command


def test_demo_logins_end_the_first_run(capsys):
    call_command("demo_logins", url="http://127.0.0.1:8000/")
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "The back office is ready: http://127.0.0.1:8000/"
    assert "  Manager                    manager / demo-manager-2026" in out
    assert out[-1] == "Stop with Ctrl+C."


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (301, "/static/img/favicon.svg")
    html = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/img/favicon.svg"' in html


def test_local_settings_serve_static_files_without_collecting_them_and_keep_libraries_quiet():
    from oms.settings import local

    assert local.WHITENOISE_USE_FINDERS is True
    assert local.STORAGES["staticfiles"]["BACKEND"].endswith("StaticFilesStorage")
    assert "Compressed" not in local.STORAGES["staticfiles"]["BACKEND"]
    loggers = local.LOGGING["loggers"]
    assert loggers["weasyprint"]["level"] == "ERROR" and loggers["celery"]["level"] == "WARNING"


def test_seed_demo_writes_the_logins_make_run_prints(db, tmp_path):
    path = tmp_path / "demo-logins.txt"
    call_command("seed_demo", "-v0", "--no-forecast", "--logins-file", str(path))
    text = path.read_text(encoding="utf-8")
    assert "manager / demo-manager-2026" in text
    assert text.startswith("Demo API key of the web channel (all scopes): ")
    from oms.management.commands.seed_demo import demo_logins

    assert len(text.splitlines()) == 2 + len(demo_logins())  # the key, the heading, one line a login
