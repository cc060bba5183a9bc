#!/usr/bin/env bash
# Builds the pull benchmark's image once and caches it: Debian bookworm from
# `debootstrap --variant=minbase` (Debian's mirror), without the downloaded .debs, as an OCI
# image layout of three gzip layers, the way an image built "FROM base; RUN apt-get update" is
# layered:
#   1. the base system, without usr/share and the apt lists   (~73 MB)
#   2. usr/share                                              (~53 MB)
#   3. var/lib/apt/lists                                      (~49 MB)
# Prints the layout's directory. BENCH_CACHE (default /var/cache/berth-bench) holds it;
# BENCH_MIRROR overrides the mirror. Needs root (debootstrap), debootstrap, gzip, jq, sha256sum.
set -euo pipefail

CACHE="${BENCH_CACHE:-/var/cache/berth-bench}"
MIRROR="${BENCH_MIRROR:-http://deb.debian.org/debian}"
LAYOUT="$CACHE/debian-3layer-oci"
TAG=3layer

if [[ -f "$LAYOUT/index.json" ]]; then
  echo "$LAYOUT"
  exit 0
fi
mkdir -p "$CACHE"
ROOTFS="$CACHE/minbase"
if [[ ! -f "$ROOTFS/.complete" ]]; then
  echo "debian-image: debootstrap --variant=minbase bookworm from $MIRROR (about 30 s) ..." >&2
  rm -rf "$ROOTFS.tmp"
  debootstrap --variant=minbase bookworm "$ROOTFS.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
    tail -n 20 "$CACHE/debootstrap.log" >&2
    echo "debian-image: debootstrap failed (log: $CACHE/debootstrap.log)" >&2
    exit 1
  }
  rm -f "$ROOTFS.tmp"/var/cache/apt/archives/*.deb
  touch "$ROOTFS.tmp/.complete"
  rm -rf "$ROOTFS"
  mv "$ROOTFS.tmp" "$ROOTFS"
fi

echo "debian-image: packing 3 layers ..." >&2
TMP="$LAYOUT.tmp"
rm -rf "$TMP"
mkdir -p "$TMP/blobs/sha256"
TAR=(tar --sort=name --numeric-owner --xattrs --xattrs-include='*' --mtime=@1700000000 -C "$ROOTFS")
"${TAR[@]}" --exclude=./.complete --exclude=./usr/share --exclude=./var/lib/apt/lists -cf "$TMP/l1.tar" .
"${TAR[@]}" -cf "$TMP/l2.tar" ./usr/share
"${TAR[@]}" -cf "$TMP/l3.tar" ./var/lib/apt/lists

diff_ids=() layers=()
for l in l1 l2 l3; do
  diff_ids+=("sha256:$(sha256sum "$TMP/$l.tar" | cut -d' ' -f1)")
  gzip -6 -n "$TMP/$l.tar"
  hex="$(sha256sum "$TMP/$l.tar.gz" | cut -d' ' -f1)"
  size="$(stat -c %s "$TMP/$l.tar.gz")"
  mv "$TMP/$l.tar.gz" "$TMP/blobs/sha256/$hex"
  layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$hex\",\"size\":$size}")
done

blob() { # blob FILE -> prints "sha256:HEX SIZE", moving FILE into blobs/
  local hex size
  hex="$(sha256sum "$1" | cut -d' ' -f1)"
  size="$(stat -c %s "$1")"
  mv "$1" "$TMP/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

jq -cn --arg d1 "${diff_ids[0]}" --arg d2 "${diff_ids[1]}" --arg d3 "${diff_ids[2]}" '{
  architecture: "amd64", os: "linux", created: "2023-11-14T22:13:20Z",
  config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["bash"] },
  rootfs: { type: "layers", diff_ids: [$d1, $d2, $d3] },
  history: [
    { created: "2023-11-14T22:13:20Z", created_by: "debootstrap --variant=minbase bookworm (without usr/share, apt lists)" },
    { created: "2023-11-14T22:13:20Z", created_by: "usr/share" },
    { created: "2023-11-14T22:13:20Z", created_by: "apt-get update (var/lib/apt/lists)" }
  ] }' >"$TMP/config.json"
read -r cdig csize < <(blob "$TMP/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
  "$cdig" "$csize" "$(IFS=,; echo "${layers[*]}")" >"$TMP/manifest.json"
read -r mdig msize < <(blob "$TMP/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}\n' \
  "$mdig" "$msize" "$TAG" >"$TMP/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$TMP/oci-layout"
rm -rf "$LAYOUT"
mv "$TMP" "$LAYOUT"
echo "$LAYOUT"
