#!/usr/bin/env bash
# image.sh: build the controller image from the binary `make build` produces, with buildah (Debian: apt-get install
# buildah). No registry is contacted: the image starts FROM scratch. Prints the image name as the last stdout line.
#
#   hack/image.sh                      # localhost/karpenter-provider-cloudstack:<version>, this machine's architecture
#   IMAGE=ghcr.io/x/y:v1 ARCH=arm64 hack/image.sh
#
# Knobs (environment):
#   IMAGE         image name (default localhost/karpenter-provider-cloudstack:$VERSION)
#   VERSION       version stamped into the binary and the labels (default: as the Makefile, git describe)
#   ARCH          GOARCH of the image (default: this machine's); the binary is cross-compiled by `make build`
#   BUILDAH_ROOT  private buildah storage (--root, --runroot below it); default: buildah's own (/var/lib/containers)
#   SOURCE        org.opencontainers.image.source label
# Storage is always the vfs driver: it needs no kernel overlay support or fuse, so it works in containers and CI.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"
command -v buildah >/dev/null || { echo "image.sh: buildah is not installed (apt-get install -y buildah)" >&2; exit 1; }
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
ARCH="${ARCH:-$(GOTOOLCHAIN=local go env GOHOSTARCH)}"
IMAGE="${IMAGE:-localhost/karpenter-provider-cloudstack:${VERSION}}"
SOURCE="${SOURCE:-https://github.com/cloudstack/karpenter-provider-cloudstack}"
BUILDAH=(buildah --storage-driver vfs)
[[ -z "${BUILDAH_ROOT:-}" ]] || BUILDAH+=(--root "${BUILDAH_ROOT}/root" --runroot "${BUILDAH_ROOT}/run")

certs=/etc/ssl/certs/ca-certificates.crt
[[ -s "${certs}" ]] || { echo "image.sh: ${certs} is missing (apt-get install -y ca-certificates)" >&2; exit 1; }

# The binary: exactly `make build`, cross-compiled for ARCH into its own directory.
bindir="bin/linux-${ARCH}"
GOOS=linux GOARCH="${ARCH}" make --no-print-directory build BIN_DIR="${bindir}" VERSION="${VERSION}" >&2

ctx="${root}/.image/${ARCH}"
rm -rf "${ctx}"
mkdir -p "${ctx}/rootfs/etc/ssl/certs"
cp "${root}/Dockerfile" "${ctx}/Dockerfile"
install -m 0755 "${bindir}/controller" "${ctx}/rootfs/controller"
install -m 0644 "${certs}" "${ctx}/rootfs/etc/ssl/certs/ca-certificates.crt"
# A name for 65532 (as distroless' "nonroot"), so tools that map uids (and Go's os/user) find one. No login shell.
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"${ctx}/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"${ctx}/rootfs/etc/group"
mkdir -p "${ctx}/rootfs/home/nonroot" "${ctx}/rootfs/tmp"
chmod 1777 "${ctx}/rootfs/tmp"

"${BUILDAH[@]}" bud --quiet --arch "${ARCH}" --os linux \
  --build-arg VERSION="${VERSION}" --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg SOURCE="${SOURCE}" -t "${IMAGE}" -f "${ctx}/Dockerfile" "${ctx}" >&2
echo "image.sh: built ${IMAGE} (${ARCH}) from ${bindir}/controller" >&2
echo "${IMAGE}"
