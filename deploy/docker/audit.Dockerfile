# syntax=docker/dockerfile:1
# The audit service's image, built from the repository root:
#   docker build -f deploy/docker/audit.Dockerfile -t beilei/audit:TAG .
# It holds the shared kit and contracts and services/audit only; no other service's code. The build
# context is limited by audit.Dockerfile.dockerignore beside this file (BuildKit, Docker 23 or later).

FROM python:3.11-slim-bookworm AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml requirements.lock ./
# The runtime dependencies named in pyproject.toml, at the versions requirements.lock pins (the lock
# also pins test tools, which the image does not need).
RUN python -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt -c requirements.lock

# The full audit's compiled leaf hash and commitment check (services/audit/ledger/_speedups.c), built with
# the full image's gcc against the same Python; without it the ledger runs its Python path, same answers.
FROM python:3.11-bookworm AS speedups
WORKDIR /build
COPY services/audit/ledger/_speedups.c services/audit/ledger/speedups_build.py ./
RUN python speedups_build.py && ls _speedups*.so

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
COPY services/audit/ services/audit/
COPY --from=speedups /build/_speedups*.so services/audit/ledger/
# Compiled once here: the container's root filesystem is read-only at run time.
RUN python -m compileall -q shared services
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["python", "-m", "services.audit"]
