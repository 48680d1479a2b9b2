#!/usr/bin/env bash
# `make docker-test`: build the image, run compose.yaml's stack (PostgreSQL, Redis, the one-shot
# migration, the app with several workers) and smoke-test it: sign in, create a record, read the
# dashboard, remove every container and start them again, and find the record still there.
# Skips (exit 0, one clear line) where no Docker daemon can run. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "docker-test: $*"; }
skip() {
    say "SKIPPED: $*"
    exit 0
}

command -v docker >/dev/null || skip "no docker client (Debian: apt-get install docker.io)"
started_daemon=""
if ! docker info >/dev/null 2>&1; then
    if command -v dockerd >/dev/null && [ "$(id -u)" = 0 ]; then
        say "no Docker daemon answers; starting dockerd with the vfs storage driver"
        dockerd --storage-driver=vfs >/tmp/ledgerline-dockerd.log 2>&1 &
        started_daemon=$!
        for _ in $(seq 30); do
            docker info >/dev/null 2>&1 && break
            sleep 1
        done
        if ! docker info >/dev/null 2>&1; then
            kill "$started_daemon" 2>/dev/null || true
            skip "dockerd could not start here (see /tmp/ledgerline-dockerd.log)"
        fi
    else
        skip "no Docker daemon answers, and none can be started here (needs root and dockerd)"
    fi
fi

if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose=(docker-compose)
else
    skip "neither 'docker compose' nor docker-compose (Debian: apt-get install docker-compose)"
fi
say "daemon $(docker version --format '{{.Server.Version}}'), compose: $("${compose[@]}" version --short 2>/dev/null || echo '?')"

# The legacy builder works with every daemon and client, with or without buildx.
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
base_image="$(bash docker/base-image.sh)"
say "base image: $base_image"

# Dependencies go into the image from wheels prepared here, pinned by requirements.lock: the
# build then needs no network, and no certificate authority of this machine inside the image.
python="$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )"
say "collecting the pinned runtime wheels into docker/wheels"
find docker/wheels -name '*.whl' -delete
"$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir docker/wheels \
    --constraint requirements.lock . 2>&1 | grep -v '^WARNING: Location' || true
"$python" -m pip download --quiet --disable-pip-version-check --dest docker/wheels \
    "setuptools>=77" 2>&1 | grep -v '^WARNING: Location' || true
rm -f docker/wheels/ledgerline-*.whl

say "building ledgerline:latest (vfs is slow: minutes)"
started=$SECONDS
docker build --quiet --build-arg "BASE_IMAGE=$base_image" \
    --build-arg "PIP_INSTALL_ARGS=--no-index --find-links /src/docker/wheels" \
    -t ledgerline:latest . >/dev/null
say "image built in $((SECONDS - started)) s, $(docker image inspect ledgerline:latest --format '{{.Size}}' | awk '{printf "%d MB", $1/1e6}')"

service_image() { # official name, stand-in Dockerfile -> the image to use
    local official="$1" dockerfile="$2" stand_in
    stand_in="ledgerline-local/$(basename "$dockerfile" .Dockerfile):bookworm"
    if docker image inspect "$official" >/dev/null 2>&1 \
        || timeout 120 docker pull --quiet "$official" >/dev/null 2>&1; then
        echo "$official"
        return
    fi
    if ! docker image inspect "$stand_in" >/dev/null 2>&1; then
        say "no registry answers for $official: building $stand_in from Debian's packages" >&2
        docker build --quiet --build-arg "BASE_IMAGE=$base_image" -f "$dockerfile" \
            -t "$stand_in" . >/dev/null
    fi
    echo "$stand_in"
}
LEDGERLINE_POSTGRES_IMAGE="$(service_image postgres:15-bookworm docker/offline/postgres.Dockerfile)"
LEDGERLINE_REDIS_IMAGE="$(service_image redis:7-bookworm docker/offline/redis.Dockerfile)"
say "PostgreSQL image: $LEDGERLINE_POSTGRES_IMAGE; Redis image: $LEDGERLINE_REDIS_IMAGE"

random() { "$python" -c 'import secrets; print(secrets.token_urlsafe(32))'; }
LEDGERLINE_PORT="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LEDGERLINE_DB_PASSWORD="$(random)"
LEDGERLINE_SECRET_KEY="$(random)"
LEDGERLINE_ADMIN_EMAIL="admin@example.com"
LEDGERLINE_ADMIN_PASSWORD="Smoke-$(random)"
LEDGERLINE_IMAGE=ledgerline:latest
LEDGERLINE_WORKERS=3
export LEDGERLINE_POSTGRES_IMAGE LEDGERLINE_REDIS_IMAGE LEDGERLINE_PORT LEDGERLINE_DB_PASSWORD \
    LEDGERLINE_SECRET_KEY LEDGERLINE_ADMIN_EMAIL LEDGERLINE_ADMIN_PASSWORD LEDGERLINE_IMAGE \
    LEDGERLINE_WORKERS

project=(-p ledgerline-docker-test -f compose.yaml)
cleanup() {
    "${compose[@]}" "${project[@]}" down --volumes --remove-orphans >/dev/null 2>&1 || true
    if [ -n "$started_daemon" ]; then
        kill "$started_daemon" 2>/dev/null || true
    fi
}
trap cleanup EXIT

base_url="http://127.0.0.1:$LEDGERLINE_PORT"
say "starting the stack on $base_url ($LEDGERLINE_WORKERS workers)"
"${compose[@]}" "${project[@]}" up -d --no-build
user_id="$(docker run --rm --entrypoint id ledgerline:latest -u)"
[ "$user_id" != 0 ] || { say "FAILED: the image runs as root"; exit 1; }
say "the image runs as uid $user_id"

result="$("$python" docker/smoke_test.py create "$base_url" "$LEDGERLINE_ADMIN_EMAIL" "$LEDGERLINE_ADMIN_PASSWORD")" || {
    echo "$result"
    "${compose[@]}" "${project[@]}" logs --tail 40
    say "FAILED"
    exit 1
}
echo "$result" | sed 's/^/  /'
record_id="$(echo "$result" | sed -n 's/^RECORD_ID=//p')"
say "migrations ran once, by the migrate service: $(docker logs "$("${compose[@]}" "${project[@]}" ps -q migrate)" 2>&1 | tail -1)"

say "removing every container (the database volume kept) and starting them again"
"${compose[@]}" "${project[@]}" rm --stop --force -v >/dev/null 2>&1
"${compose[@]}" "${project[@]}" up -d --no-build
"$python" docker/smoke_test.py verify "$base_url" "$LEDGERLINE_ADMIN_EMAIL" "$LEDGERLINE_ADMIN_PASSWORD" "$record_id" \
    | sed 's/^/  /' || {
    "${compose[@]}" "${project[@]}" logs --tail 40
    say "FAILED"
    exit 1
}

app_container="$("${compose[@]}" "${project[@]}" ps -q app)"
for _ in $(seq 30); do
    health="$(docker inspect --format '{{.State.Health.Status}}' "$app_container")"
    [ "$health" = healthy ] && break
    sleep 2
done
say "app container health (HEALTHCHECK on /readyz): $health"
[ "$health" = healthy ] || { say "FAILED: the app never became healthy"; exit 1; }
say "stopping the app with SIGTERM"
started=$SECONDS
docker stop --time 40 "$app_container" >/dev/null
say "app stopped in $((SECONDS - started)) s, exit code $(docker inspect --format '{{.State.ExitCode}}' "$app_container")"
say "PASSED"
