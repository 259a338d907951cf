# syntax=docker/dockerfile:1
# The attendance service's image, built from the repository root:
#   docker build -f deploy/docker/attendance.Dockerfile -t beilei/attendance:TAG .
# It holds the shared kit and contracts and services/attendance only; no other service's code. The build
# context is limited by attendance.Dockerfile.dockerignore beside this file (BuildKit, Docker 23 or later).

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
COPY services/attendance/ services/attendance/
# Compiled once here: the container's root filesystem is read-only at run time.
RUN python -m compileall -q shared services
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["python", "-m", "services.attendance"]
