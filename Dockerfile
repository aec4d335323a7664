# syntax=docker/dockerfile:1
# flexidp: multi-stage build of a static binary, run as non-root on a
# read-only root filesystem (the only writable path is the SQLite data
# directory, used when IDP_DATABASE_URL is sqlite://).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO off: pgx and modernc.org/sqlite are pure Go, so the binary is static.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/idp ./cmd/idp \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/idp /usr/local/bin/idp
COPY --from=build --chown=65532:65532 /out/data /var/lib/flexidp
USER 65532:65532
ENV IDP_LISTEN=:8080 \
    IDP_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/flexidp"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s CMD ["/usr/local/bin/idp", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/idp"]
CMD ["serve"]
