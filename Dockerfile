# paperboy in a container: `docker build -t paperboy . && docker run -e PAPERBOY_TELEGRAM__TOKEN=... -v paperboy:/data paperboy`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PAPERBOY_DATABASE__URL=sqlite:////data/paperboy.sqlite3

WORKDIR /app
COPY pyproject.toml README.md ./
COPY digest ./digest
COPY bot ./bot
COPY adapters ./adapters
RUN pip install --no-cache-dir ".[postgres]" \
    && useradd --create-home --uid 1000 paperboy \
    && mkdir -p /data && chown paperboy /data

USER paperboy
VOLUME ["/data"]
# Webhook mode listens here when telegram.webhook_url is set; long polling needs no port.
EXPOSE 8443
ENTRYPOINT ["paperboy"]
CMD ["run"]
