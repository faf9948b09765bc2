# syntax=docker/dockerfile:1
# The controller image: a static binary on distroless, running as the nonroot user (65532).
# Multi-arch: buildx runs the builder stage on the build machine's platform and cross-compiles for TARGETOS/TARGETARCH,
# so an arm64 image is built without emulation:
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=v0.1.0 -t <image>:v0.1.0 .

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
# Karpenter v1.15.0 needs go >= 1.26.9: the go command fetches this toolchain from the module proxy.
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
# This must stay identical to the build command of `make build` (Makefile), so that the binary CI builds and tests is
# the binary this image ships: CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION".
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/controller ./cmd/controller

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /out/controller /controller
USER 65532:65532
ENTRYPOINT ["/controller"]
