#!/usr/bin/env bash
# berth's main job (`npm start`): set everything up, then take an image made from Debian's
# busybox-static through a local registry (import, push, rmi, pull) and run containers from it
# through berthd: run, ps, exec, logs, a memory limit enforced, explain, rm (scripts/demo.ts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ $EUID -ne 0 ]]; then
  echo "demo: berth needs root (namespaces, mounts, cgroups): run as root, e.g. sudo npm start" >&2
  exit 1
fi
bash scripts/setup.sh
exec node --import tsx scripts/demo.ts "$@"
