# syntax=docker/dockerfile:1
#
# Gatehouse container image.
#
#   docker build -t gatehouse .
#   docker run -d --name gatehouse -p 8080:8080 \
#     -v gatehouse-data:/var/lib/gatehouse \
#     -v "$PWD/gatehouse.toml:/etc/gatehouse/config.toml:ro" \
#     gatehouse
#
# The image's own config (config/docker.toml) listens on 0.0.0.0:8080 and keeps
# the SQLite database in the /var/lib/gatehouse volume; mount your config over
# /etc/gatehouse/config.toml, or override single keys with GATEHOUSE_* variables.
# cmd/gatehouse/docker_test.go starts the binary with exactly the ENV set here.

# ---- build: cgo (SQLite is compiled in), on the same Debian release as the runtime
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/gatehouse ./cmd/gatehouse

# ---- runtime: glibc for the cgo binary, CA certificates for TLS to PostgreSQL
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid gatehouse --home-dir /var/lib/gatehouse --shell /usr/sbin/nologin gatehouse \
 && mkdir -p /etc/gatehouse /var/lib/gatehouse \
 && chown gatehouse:gatehouse /var/lib/gatehouse \
 && chmod 0750 /var/lib/gatehouse
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
COPY config/docker.toml /etc/gatehouse/config.toml

ENV GATEHOUSE_CONFIG=/etc/gatehouse/config.toml
VOLUME ["/var/lib/gatehouse"]
WORKDIR /var/lib/gatehouse
USER gatehouse:gatehouse
EXPOSE 8080
# SIGTERM drains requests in flight within server.shutdown_grace (8s in
# config/docker.toml, under docker stop's default 10s).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/gatehouse", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
