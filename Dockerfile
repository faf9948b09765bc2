# The controller image: the static binary that `make build` produces, CA certificates, and a passwd/group naming the
# non-root user 65532. No base image, so no shell, no package manager, nothing else to patch.
#
# Build it with hack/image.sh (`make image`): the script runs `make build` for the wanted architecture and stages the
# context below (.image/<arch>/: rootfs/controller, rootfs/etc/passwd, rootfs/etc/group,
# rootfs/etc/ssl/certs/ca-certificates.crt from the build machine's ca-certificates) before calling
# `buildah bud` (or `docker build`) on it. The same script builds the release images (.github/workflows/release.yaml).
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/cloudstack/karpenter-provider-cloudstack
COPY rootfs/ /
USER 65532:65532
ENTRYPOINT ["/controller"]
LABEL org.opencontainers.image.title="karpenter-provider-cloudstack" \
      org.opencontainers.image.description="Karpenter controller for Apache CloudStack" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
