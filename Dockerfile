# syntax=docker/dockerfile:1
# flexidp: multi-stage build of a static binary, run as non-root on a
# read-only root filesystem. The process writes nothing outside
# /var/lib/flexidp, which only SQLite (IDP_DATABASE_URL=sqlite://...) uses;
# with PostgreSQL nothing at all is written to disk.
#
#   docker build -t flexidp:latest .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/flexidp:TAG .

# The build stage runs on the builder's platform and cross-compiles.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
# CGO off: pgx and modernc.org/sqlite are pure Go, so the binary is static
# and runs on an image with no libc. .git is not in the context
# (.dockerignore), so VCS stamping is off and VERSION names the build.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w -X main.version=${VERSION}" -o /out/idp ./cmd/idp \
 && mkdir -p /out/data

# distroless/static: CA certificates, tzdata and /etc/passwd with the
# nonroot user (65532), no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/idp /usr/local/bin/idp
COPY --from=build --chown=65532:65532 /out/data /var/lib/flexidp
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
ENV IDP_LISTEN=:8080 \
    IDP_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/flexidp"]
# No curl in the image: the binary probes its own /readyz.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 CMD ["/usr/local/bin/idp", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/idp"]
CMD ["serve"]
