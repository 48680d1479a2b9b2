# Ledgerline's image: Debian slim, the pinned runtime dependencies of requirements.lock, a
# non-root user. Migrations are a command (`ledgerline db upgrade`, the compose file's `migrate`
# service), never a side effect of starting: several replicas must not race to migrate.
#
# BASE_IMAGE: any Debian bookworm image (docker/base-image.sh builds one where no registry answers).
# PIP_INSTALL_ARGS: e.g. "--no-index --find-links /src/docker/wheels" to install from wheels
# put in docker/wheels beforehand (offline builds; `make docker-test` does so).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ARG PIP_INSTALL_ARGS=""
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY docker/wheels/ docker/wheels/
COPY src/ src/
RUN python3 -m venv /opt/ledgerline \
    && /opt/ledgerline/bin/pip install ${PIP_INSTALL_ARGS} --constraint requirements.lock . \
    && /opt/ledgerline/bin/pip uninstall --yes pip \
    && find /opt/ledgerline -name '__pycache__' -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home ledgerline
COPY --from=build /opt/ledgerline /opt/ledgerline
ENV PATH=/opt/ledgerline/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEDGERLINE_DATABASE_URL=sqlite:////data/ledgerline.db \
    LEDGERLINE_AUTO_MIGRATE=false
USER ledgerline
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["ledgerline", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
