# paperboy in a container: `docker build -t paperboy . && docker run -e PAPERBOY_TELEGRAM__TOKEN=... -v paperboy:/data paperboy`
# For many chats (PostgreSQL, one scheduler, several senders, a bot process): docker compose up -d (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAPERBOY_DATABASE__URL=sqlite:////data/paperboy.sqlite3 \
    PAPERBOY_METRICS__PORT=9108

WORKDIR /app
RUN useradd --create-home --uid 1000 paperboy && mkdir -p /data && chown paperboy /data

# 1. Dependencies only, in a layer of their own: it is rebuilt when pyproject.toml changes, not
#    on every code change. (Empty packages stand in for the source so pip can resolve the project.)
COPY pyproject.toml README.md ./
RUN mkdir -p digest bot adapters \
    && touch digest/__init__.py bot/__init__.py adapters/__init__.py \
    && pip install --no-cache-dir ".[all,postgres]" \
    && pip uninstall -y paperboy-bot \
    && rm -rf digest bot adapters build ./*.egg-info

# 2. The source, then the package itself without touching the dependencies.
COPY digest ./digest
COPY bot ./bot
COPY adapters ./adapters
RUN pip install --no-cache-dir --no-deps . && rm -rf build ./*.egg-info

USER paperboy
VOLUME ["/data"]
# 8443: Telegram webhook (when telegram.webhook_url is set); 9108: /metrics and /healthz (metrics.port).
EXPOSE 8443 9108
# Ready when the database answers and a scheduler holds a fresh lease (see `paperboy run`'s /healthz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PAPERBOY_METRICS__PORT', '9108'), timeout=4)"
ENTRYPOINT ["paperboy"]
CMD ["run"]
