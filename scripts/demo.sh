#!/usr/bin/env bash
# berth's main job (`npm start`): set everything up, then take an image made from Debian's
# busybox-static through a local registry (import, push, pull), make it a bundle, run it with
# berth-oci, and show how the container was built.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ $EUID -ne 0 ]]; then
  echo "demo: berth-oci needs root (namespaces, mounts, cgroups): run as root, e.g. sudo npm start" >&2
  exit 1
fi
bash scripts/setup.sh
exec node --import tsx scripts/demo.ts "$@"
