# syntax=docker/dockerfile:1
# The portal's image, built from the repository root:
#   docker build -f deploy/docker/portal.Dockerfile -t beilei/portal:TAG .
# It holds the shared kit and contracts and services/portal only; no other service's code. Its browser
# libraries come from the npm packages pinned in services/portal/web/package-lock.json, copied into
# static/vendor/ in a node stage: the portal serves them itself, never from a CDN (issue 18).

FROM node:22-bookworm-slim AS vendor
WORKDIR /build/services/portal/web
COPY services/portal/web/package.json services/portal/web/package-lock.json services/portal/web/copy-vendor.sh ./
RUN npm ci --no-audit --no-fund --loglevel=error && bash copy-vendor.sh

FROM python:3.11-slim-bookworm AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml requirements.lock ./
# The runtime dependencies named in pyproject.toml, at the versions requirements.lock pins (the lock
# also pins test tools, which the image does not need).
RUN python -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt -c requirements.lock

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    MIGRATE_ON_START=false \
    CREATE_TOPICS=false
RUN groupadd --system --gid 10001 beilei \
 && useradd --system --uid 10001 --gid beilei --no-create-home --shell /usr/sbin/nologin beilei
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY shared/ shared/
COPY services/__init__.py services/
COPY services/portal/ services/portal/
COPY --from=vendor /build/services/portal/static/vendor/ services/portal/static/vendor/
# Compiled once here: the container's root filesystem is read-only at run time.
RUN python -m compileall -q shared services
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["python", "-m", "services.portal"]
