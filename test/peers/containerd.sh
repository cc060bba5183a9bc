#!/usr/bin/env bash
# A private containerd 1.6 for berth's peer tests; nothing outside DIR is used but the shim
# sockets containerd 1.6 always puts under /run/containerd/s (removed again by `stop`).
#
#   containerd.sh start DIR   writes DIR/config.toml (root DIR/root, state DIR/state, socket
#                             DIR/containerd.sock, no CRI plugin, debug log level), starts
#                             containerd (pid in DIR/containerd.pid, log in DIR/containerd.log)
#                             and waits until it answers.
#   containerd.sh ctr DIR ARGS...   ctr --address DIR/containerd.sock ARGS...
#   containerd.sh stop DIR    kills and deletes every task and container, stops containerd and
#                             the shims it started, force-deletes what is left under the runtime
#                             roots DIR/runc/*, detaches mounts under DIR, removes the cgroups
#                             /NS (for namespaces NS named berth-peers*), the shim sockets and
#                             /run/containerd if start created it, then DIR itself (unless
#                             KEEP=1). Exits 1 and says what if anything could not be removed.
#
# DIR must be named berth-peers-* (a guard: stop removes it). Containers' runc root: pass
# `--runc-root DIR/runc` to `ctr run`; the tests run containers in namespaces berth-peers-*.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_WHAT=containerd.sh
# shellcheck source=lib.sh
. "$here/lib.sh"

usage() { echo "usage: containerd.sh start|stop|ctr DIR [ARGS...]" >&2; exit 2; }
(($# >= 2)) || usage
action="$1"
dir="$2"
shift 2
mkdir -p "$dir" || exit 1
dir="$(cd "$dir" && pwd)"
peers_check_dir "$dir" || exit 1
sock="$dir/containerd.sock"

ctr_() { timeout "${CTR_TIMEOUT:-30}" ctr --address "$sock" "$@"; }

alive() {
  local pid
  pid="$(cat "$dir/containerd.pid" 2>/dev/null)" || return 1
  [[ -n "$pid" && -d "/proc/$pid" ]] && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}

start() {
  if alive; then peers_log "containerd already running for $dir"; return 0; fi
  command -v containerd >/dev/null || { peers_log "containerd not installed"; return 1; }
  mkdir -p "$dir/root" "$dir/state" "$dir/opt" "$dir/fifo" "$dir/runc"
  # containerd 1.6 puts shim sockets in /run/containerd/s whatever its --state: note whether
  # those directories were there, to remove them again (if empty) on stop.
  [[ -e /run/containerd ]] || touch "$dir/.made-run-containerd"
  [[ -e /run/containerd/s ]] || touch "$dir/.made-run-containerd-s"
  cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
oom_score = 0
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[debug]
  level = "debug"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$dir/opt"
EOF
  containerd --config "$dir/config.toml" </dev/null >>"$dir/containerd.log" 2>&1 &
  echo $! >"$dir/containerd.pid"
  local i
  for i in $(seq 200); do
    if [[ -S "$sock" ]] && ctr_ version >/dev/null 2>&1; then return 0; fi
    alive || break
    sleep 0.1
  done
  peers_log "containerd did not come up; its log:"
  tail -n 30 "$dir/containerd.log" >&2
  return 1
}

stop() {
  local failed=0 ns t c p pids
  # Namespaces that ran something: containerd's own list plus the task/runc state directories.
  local namespaces=()
  if alive; then mapfile -t namespaces < <(ctr_ namespaces ls -q 2>/dev/null); fi
  for p in "$dir"/state/io.containerd.runtime.v2.task/*/ "$dir"/runc/*/; do
    [[ -d "$p" ]] && namespaces+=("$(basename "$p")")
  done
  mapfile -t namespaces < <(printf '%s\n' "${namespaces[@]}" | sed '/^$/d' | sort -u)

  if alive; then
    for ns in "${namespaces[@]}"; do
      for t in $(ctr_ -n "$ns" tasks ls -q 2>/dev/null); do
        ctr_ -n "$ns" tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1
        ctr_ -n "$ns" tasks delete -f "$t" >/dev/null 2>&1
      done
      for c in $(ctr_ -n "$ns" containers ls -q 2>/dev/null); do
        ctr_ -n "$ns" containers rm "$c" >/dev/null 2>&1
      done
    done
  fi

  # The shims' sockets (unix:///run/containerd/s/HASH), to remove if a shim leaves one.
  local sockets=()
  for p in "$dir"/state/io.containerd.runtime.v2.task/*/*/address; do
    [[ -f "$p" ]] && sockets+=("$(sed 's|^unix://||' "$p")")
  done

  # containerd itself, by its pid.
  if alive; then
    local pid
    pid="$(cat "$dir/containerd.pid")"
    kill -TERM "$pid" 2>/dev/null
    local i
    for i in $(seq 100); do alive || break; sleep 0.1; done
    if alive; then kill -KILL "$pid" 2>/dev/null; sleep 0.2; fi
    alive && { peers_log "containerd $pid would not exit"; failed=1; }
  fi

  # Shims it started: containerd-shim-runc-v2 ... -address DIR/containerd.sock.
  mapfile -t pids < <(peers_pids_matching "$sock" containerd-shim-runc-v2,containerd-shim)
  if ((${#pids[@]})); then
    peers_log "killing leftover shims: ${pids[*]}"
    peers_kill_pids "${pids[@]}" || failed=1
  fi

  # Containers the shims did not delete.
  local runtime="${BERTH_OCI:-$here/../../dist/berth-oci.js}"
  [[ -x "$dir/bin/berth-oci" ]] && runtime="$dir/bin/berth-oci"
  for p in "$dir"/runc/*/; do
    [[ -d "$p" ]] && peers_delete_all_under_root "$runtime" "${p%/}"
  done

  for p in "${sockets[@]}"; do
    case "$p" in /run/containerd/s/*) rm -f "$p" ;; esac
  done
  [[ -f "$dir/.made-run-containerd-s" ]] && peers_rmdir_if_empty /run/containerd/s
  [[ -f "$dir/.made-run-containerd" ]] && peers_rmdir_if_empty /run/containerd/s /run/containerd

  local left
  left="$(peers_umount_under "$dir")"
  if [[ -n "$left" ]]; then peers_log "mounts left under $dir: $left"; failed=1; fi

  for ns in "${namespaces[@]}"; do
    case "$ns" in
      berth-peers*) left="$(peers_remove_cgroup_tree "/$ns")" || { peers_log "cgroups left: $left"; failed=1; } ;;
    esac
  done

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
  start) start ;;
  stop) stop ;;
  ctr) exec ctr --address "$sock" "$@" ;;
  *) usage ;;
esac
