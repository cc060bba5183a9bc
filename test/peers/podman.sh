#!/usr/bin/env bash
# podman 4.3 (with conmon) for berth's peer tests, with all of its state under DIR.
#
#   podman.sh setup DIR        writes DIR/containers.conf: cgroupfs cgroup manager, file events
#                              log, file locks and tmp dir under DIR, ulimits this machine can
#                              grant (nofile 20000, nproc 32768), netns "none" (no netavark or
#                              CNI set-up), network config dir under DIR, and berth-oci listed
#                              in runtime_supports_json (it takes runc's --log/--log-format json).
#   podman.sh podman DIR ARGS...   CONTAINERS_CONF=DIR/containers.conf podman --root DIR/storage
#                              --runroot DIR/run --storage-driver vfs ARGS...
#   podman.sh cleanup DIR [CGROUP_PARENT...]
#                              removes every container (podman rm -af), kills conmon and podman
#                              processes working on DIR, force-deletes what is left under the
#                              runtime root DIR/oci-root, detaches mounts under DIR, removes the
#                              cgroup trees CGROUP_PARENT (each named /berth-peers*), removes
#                              /run/containers/networks and /run/containers if setup did not find
#                              them (podman 4.3 creates them for netavark whatever the config),
#                              then DIR (unless KEEP=1). Exits 1 and says what if anything is left.
#
# Pass --runtime PATH and --cgroup-parent /berth-peers-... on the command line. DIR must be
# named berth-peers-*.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_WHAT=podman.sh
# shellcheck source=lib.sh
. "$here/lib.sh"

usage() { echo "usage: podman.sh setup|podman|cleanup DIR [ARGS...]" >&2; exit 2; }
(($# >= 2)) || usage
action="$1"
dir="$2"
shift 2
mkdir -p "$dir" || exit 1
dir="$(cd "$dir" && pwd)"
peers_check_dir "$dir" || exit 1

podman_() {
  CONTAINERS_CONF="$dir/containers.conf" podman --root "$dir/storage" --runroot "$dir/run" --storage-driver vfs "$@"
}

setup() {
  command -v podman >/dev/null || { peers_log "podman not installed"; return 1; }
  mkdir -p "$dir/tmp" "$dir/networks" "$dir/storage" "$dir/run" "$dir/oci-root"
  [[ -e /run/containers ]] || touch "$dir/.made-run-containers"
  [[ -e /run/containers/networks ]] || touch "$dir/.made-run-containers-networks"
  cat >"$dir/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
cgroupns = "private"
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
tmp_dir = "$dir/tmp"
lock_type = "file"
runtime_supports_json = ["berth-oci", "runc", "crun"]

[network]
network_config_dir = "$dir/networks"
EOF
}

cleanup() {
  local failed=0 p pids left
  if [[ -f "$dir/containers.conf" ]]; then
    CONTAINERS_CONF="$dir/containers.conf" timeout 60 podman --root "$dir/storage" --runroot "$dir/run" \
      --storage-driver vfs rm -af -t 0 >/dev/null 2>&1 ||
      peers_log "podman rm -af failed"
  fi
  mapfile -t pids < <(peers_pids_matching "$dir/" conmon,podman)
  if ((${#pids[@]})); then
    peers_log "killing leftover conmon/podman processes: ${pids[*]}"
    peers_kill_pids "${pids[@]}" || failed=1
  fi

  local runtime="${BERTH_OCI:-$here/../../dist/berth-oci.js}"
  [[ -x "$dir/bin/berth-oci" ]] && runtime="$dir/bin/berth-oci"
  peers_delete_all_under_root "$runtime" "$dir/oci-root"

  left="$(peers_umount_under "$dir")"
  if [[ -n "$left" ]]; then peers_log "mounts left under $dir: $left"; failed=1; fi

  for p in "$@"; do
    left="$(peers_remove_cgroup_tree "$p")" || { peers_log "cgroups left: $left"; failed=1; }
  done

  [[ -f "$dir/.made-run-containers-networks" ]] && peers_rmdir_if_empty /run/containers/networks
  [[ -f "$dir/.made-run-containers" ]] && peers_rmdir_if_empty /run/containers/networks /run/containers

  if [[ "${KEEP:-0}" != 1 ]]; then
    if [[ -z "$(peers_mounts_under "$dir")" ]]; then
      rm -rf "$dir" || failed=1
    else
      failed=1
    fi
  fi
  return "$failed"
}

case "$action" in
  setup) setup ;;
  podman) podman_ "$@" ;;
  cleanup) cleanup "$@" ;;
  *) usage ;;
esac
