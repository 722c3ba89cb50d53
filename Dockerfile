# mapsrv container image: `docker build -t REGISTRY/mapsrv:TAG .` (see deploy/README.md).
#
# Two stages on the same base image, so the virtualenv built in the first (whose bin/python links
# to /usr/local/bin/python3.11) runs unchanged in the second. The final image holds the base
# image, one virtualenv with mapsrv and its dependencies (no pip in it), and a non-root user:
# no compiler, no wheel files, no pip cache.
#
# For reproducible builds pin the base image by digest in both FROM lines
# (python:3.11-slim@sha256:...), and let a bot bump it.

FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# The build context is filtered by .dockerignore: the package (its static files and templates are
# package data) and the metadata files that setup.cfg reads; never build/ (stale setuptools
# output) or the tests.
COPY . /src

# The project's wheel and a wheel of every dependency, then a virtualenv installed from those
# wheels alone (--no-index): what was built is exactly what ships. The venv has no pip of its own;
# the builder's pip installs into it (--python).
RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
    && python -m venv --without-pip /opt/mapsrv \
    && pip --python /opt/mapsrv/bin/python install --no-cache-dir --no-index --find-links /wheels \
        /wheels/mapsrv-*.whl \
    && /opt/mapsrv/bin/mapsrv --version \
    && /opt/mapsrv/bin/python -I -c "import mapsrv.web; mapsrv.web.find_static_dir()" \
    && /opt/mapsrv/bin/python -I -c "from mapsrv.http.templates import environment as e; \
        e('mapsrv.web').get_template('index.html'); e('mapsrv.mcp').get_template('app.html')" \
    && XDG_CACHE_HOME=/opt/mapsrv/cache /opt/mapsrv/bin/python -I -c \
        "from mapsrv.places.stored import places_file; print(places_file())"
# The last step writes the built-in places and borders file (mapsrv.places.stored, ~75 MB) into
# the image: a pod opens it read-only (XDG_CACHE_HOME below) instead of writing it to /tmp at
# each start.


FROM python:3.11-slim

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="mapsrv" \
      org.opencontainers.image.description="A live map that AI agents draw on through MCP while people watch in a browser" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="python:3.11-slim"

# A fixed UID/GID (10001) so Kubernetes' runAsUser/runAsNonRoot and volume permissions can name it.
RUN groupadd --system --gid 10001 mapsrv \
    && useradd --system --uid 10001 --gid mapsrv --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin mapsrv

# Noto Color Emoji (Debian's package, OFL: it cannot ship in mapsrv's wheel) for the emoji that
# markers show as symbols in map_image; without it they are left out and the caption says why.
# Debian's stable updates are taken as they come, so the package is not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-color-emoji \
    && rm -rf /var/lib/apt/lists/*

COPY --from=builder /opt/mapsrv /opt/mapsrv

# MAPSRV_HOST/PORT: listen on every interface inside the container. Every other setting is a
# MAPSRV_* variable given at run time (`mapsrv serve --help` lists them). mapsrv refuses unknown
# MAPSRV_* variables, so never name a Docker link or Kubernetes Service "mapsrv..." with service
# links enabled (deploy/k8s sets enableServiceLinks: false).
ENV PATH="/opt/mapsrv/bin:${PATH}" \
    MAPSRV_HOST=0.0.0.0 \
    MAPSRV_PORT=8000 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    XDG_CACHE_HOME=/opt/mapsrv/cache

USER 10001:10001
EXPOSE 8000

# No curl in the slim image: Python's urllib. mapsrv checks the Host header on every path, /health
# included, so the check sends the first name in MAPSRV_ALLOWED_HOSTS (default localhost).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; hosts = [h.strip() for h in os.environ.get('MAPSRV_ALLOWED_HOSTS', 'localhost').split(',') if h.strip() not in ('', '*')]; u.urlopen(u.Request('http://127.0.0.1:%s/health' % os.environ.get('MAPSRV_PORT', '8000'), headers={'Host': (hosts or ['localhost'])[0]}), timeout=4)"]

# mapsrv drains on SIGTERM: /ready turns 503, event streams end with a retry hint, requests in
# flight get MAPSRV_GRACEFUL_TIMEOUT (default 10 s). Give `docker stop` longer than that (-t 15).
STOPSIGNAL SIGTERM
ENTRYPOINT ["mapsrv"]
CMD ["serve"]
