FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=oms.settings.production

# WeasyPrint needs pango; fonts for PDFs; libpq for psycopg is bundled by psycopg[binary].
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
    fonts-dejavu-core curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY . .
# Production settings refuse to start without real secrets, so the build steps get throwaway ones (never
# kept in the image: they live only in this RUN's shell).
RUN pip install . \
 && export DJANGO_ALLOWED_HOSTS=build \
    DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    OMS_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
 && python manage.py collectstatic --noinput -v0 \
 && python manage.py compile_translations -v0 \
 && useradd --create-home --uid 1000 oms && mkdir -p /app/var/media && chown -R oms /app/var

USER oms
EXPOSE 8000
# oms/gunicorn_conf.py: 4 sync workers (WEB_CONCURRENCY, GUNICORN_WORKER_CLASS), the same as compose
# and bench/webhooks.py. Celery workers started from this image run at WORKER_NICE (10): on a shared host the
# web gets the cores first.
ENV GUNICORN_ACCESS_LOG=true
CMD ["gunicorn", "-c", "python:oms.gunicorn_conf", "oms.wsgi:application"]
