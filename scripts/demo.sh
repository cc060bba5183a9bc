#!/usr/bin/env bash
# berth's main job (`npm start`): set everything up, build a busybox OCI bundle from Debian's
# busybox-static, run a container from it through berth-oci, and show how it was built.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ $EUID -ne 0 ]]; then
  echo "demo: berth-oci needs root (namespaces, mounts, cgroups): run as root, e.g. sudo npm start" >&2
  exit 1
fi
bash scripts/setup.sh
exec node --import tsx scripts/demo.ts "$@"
