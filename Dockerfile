FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CSMS_STATIC_ROOT=/app/staticfiles \
    CSMS_MEDIA_ROOT=/data/media \
    CSMS_SQLITE_PATH=/data/db.sqlite3

WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir .
COPY . .
RUN python manage.py collectstatic --noinput \
    && useradd --system --home /app csms \
    && mkdir -p /data/media && chown -R csms /data

USER csms
EXPOSE 8000
# Ready: the database answers, every migration is applied and the channel layer carries a
# message; otherwise `docker inspect` shows what GET /ready names as wrong.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "deploy/healthcheck.py"]
CMD ["sh", "-c", "python manage.py migrate --noinput && exec python manage.py serve --bind 0.0.0.0 --port 8000"]
