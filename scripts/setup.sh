#!/usr/bin/env bash
# Installs what berth needs to build and test on Debian 12, then builds it.
# Idempotent and quiet when everything is already present; runs from any cwd.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------
APT_PACKAGES=(
  build-essential gcc make pkg-config libseccomp-dev
  busybox-static tini
  iproute2 nftables iptables
  runc crun containerd podman conmon skopeo umoci docker-registry
  apache2-utils zstd openssl debootstrap
  jq hyperfine procps util-linux strace
  # clients only, the acceptance tests of berthd: Debian's docker CLI 20.10 (API 1.41), the
  # Docker SDK for Python and compose. dockerd comes with docker.io and is never started here.
  docker.io python3-docker docker-compose
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]} (run as root to install them)"
    exit 1
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Packages such as docker-registry and containerd would start their services
  # on install; keep the machine free of daemons the tests did not start.
  policy_added=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_added=1
  fi
  cleanup_policy() { if ((policy_added)); then rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup_policy EXIT
  # daemons running before the install are left alone; any the install starts is stopped below
  daemons_before=" $(pgrep -x 'dockerd|containerd' | tr '\n' ' ') "
  apt_log="$(mktemp)"
  if ! apt-get update -qq >"$apt_log" 2>&1; then
    cat "$apt_log" >&2; rm -f "$apt_log"; log "apt-get update failed"; exit 1
  fi
  if ! apt-get install -y -qq "${missing[@]}" >"$apt_log" 2>&1; then
    cat "$apt_log" >&2; rm -f "$apt_log"; log "apt-get install failed"; exit 1
  fi
  rm -f "$apt_log"
  # policy-rc.d keeps invoke-rc.d from starting them; a socket-activated or otherwise started
  # dockerd/containerd would still serve as root on this machine, so stop exactly those
  for pid in $(pgrep -x 'dockerd|containerd' || true); do
    if [[ "$daemons_before" != *" $pid "* ]]; then
      log "stopping $(cat "/proc/$pid/comm" 2>/dev/null || echo daemon) (pid $pid) started by the install"
      kill "$pid" 2>/dev/null || true
    fi
  done
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl disable --now docker.socket docker.service containerd.service >/dev/null 2>&1 || true
  fi
  cleanup_policy
  trap - EXIT
fi

# --- npm dependencies ----------------------------------------------------------
need_npm=0
if [[ ! -d node_modules ]]; then
  need_npm=1
elif [[ package.json -nt node_modules ]]; then
  need_npm=1
elif [[ -f package-lock.json && package-lock.json -nt node_modules ]]; then
  need_npm=1
fi

npm_quiet=(--no-audit --no-fund --loglevel=error)
if ((need_npm)); then
  if [[ -f package-lock.json ]]; then
    npm ci "${npm_quiet[@]}" >&2
  else
    npm install "${npm_quiet[@]}" >&2
  fi
  touch node_modules
else
  # npm ci/install runs `make -C native`; when they are skipped, still bring the
  # native helpers up to date (make is incremental).
  if [[ -f native/Makefile || -f native/makefile || -f native/GNUmakefile ]]; then
    make -s -C native >&2
  fi
fi

# --- build ---------------------------------------------------------------------
build_script="$(node -e '
  const p = JSON.parse(require("fs").readFileSync("package.json", "utf8"));
  process.stdout.write((p.scripts && p.scripts.build) || "");
')"
if [[ -n "$build_script" ]]; then
  # The build script may name a file another engineer has not written yet
  # (e.g. `node scripts/build.mjs`): skip with a note instead of failing.
  if [[ "$build_script" =~ ^node[[:space:]]+([^[:space:]]+\.(m|c)?[jt]s) ]] && [[ ! -f "${BASH_REMATCH[1]}" ]]; then
    log "build script ${BASH_REMATCH[1]} not present yet; skipping npm run build"
  else
    npm run -s build >&2
  fi
fi
