# Shared by containerd.sh and podman.sh (sourced, bash). Everything here touches only what
# lies under a test's own DIR, or cgroups whose top directory is named berth-peers*.

peers_log() { printf '%s: %s\n' "${PEERS_WHAT:-peers}" "$*" >&2; }

# Absolute path of a directory that must be a test directory we own: a berth-peers-* dir.
peers_check_dir() {
  local d="$1"
  case "$(basename "$d")" in
    berth-peers-*) ;;
    *) peers_log "refusing to work on $d: not a berth-peers-* directory"; return 1 ;;
  esac
}

# Mount points at or under DIR, deepest first.
peers_mounts_under() {
  local dir="$1"
  awk -v d="$dir" '
    function unesc(s,   out, i, c) {
      out = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\\" && substr(s, i + 1, 3) ~ /^[0-7][0-7][0-7]$/) {
          out = out sprintf("%c", (substr(s, i + 1, 1) * 64) + (substr(s, i + 2, 1) * 8) + substr(s, i + 3, 1))
          i += 3
        } else out = out c
      }
      return out
    }
    { p = unesc($5); if (p == d || index(p, d "/") == 1) print length(p) "\t" p }
  ' /proc/self/mountinfo | sort -rn | cut -f2-
}

# Lazily detaches every mount under DIR; prints the ones it could not.
peers_umount_under() {
  local dir="$1" m
  while IFS= read -r m; do
    [[ -n "$m" ]] && umount -l "$m" 2>/dev/null
  done < <(peers_mounts_under "$dir")
  peers_mounts_under "$dir"
}

# PIDs whose command line (NUL-joined argv) contains STRING and whose argv[0] basename is one of
# NAMES (comma-separated). Never this shell or its ancestors.
peers_pids_matching() {
  local string="$1" names="$2" p cmd arg0 base
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [[ "$p" == "$$" || "$p" == "$BASHPID" ]] && continue
    cmd="$(tr '\0' '\n' 2>/dev/null <"/proc/$p/cmdline")" || continue
    [[ -z "$cmd" ]] && continue
    [[ "$cmd" == *"$string"* ]] || continue
    arg0="${cmd%%$'\n'*}"
    base="$(basename "$arg0")"
    [[ ",$names," == *",$base,"* ]] && echo "$p"
  done
}

# Sends SIGKILL to each PID (by id) and waits up to 5 s for them to go.
peers_kill_pids() {
  local p i
  for p in "$@"; do kill -KILL "$p" 2>/dev/null; done
  for i in $(seq 50); do
    local alive=0
    for p in "$@"; do [[ -d "/proc/$p" ]] && [[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]] && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  peers_log "processes still alive after SIGKILL: $*"
  return 1
}

# Force-deletes every container the runtime keeps under ROOT (a --root directory), with the
# runtime RUNTIME (the logging wrapper or berth-oci itself).
peers_delete_all_under_root() {
  local runtime="$1" root="$2" id
  [[ -d "$root" ]] || return 0
  for id in $(ls -A "$root" 2>/dev/null); do
    [[ -d "$root/$id" ]] || continue
    timeout 30 "$runtime" --root "$root" delete --force "$id" >/dev/null 2>&1 ||
      peers_log "$runtime --root $root delete --force $id failed"
    rm -rf "${root:?}/$id" 2>/dev/null
  done
}

# Mount points of the cgroup (v1) and cgroup2 hierarchies, each with a trailing slash.
peers_cgroup_mounts() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup" || $(i + 1) == "cgroup2") print $5 "/"; break } }' /proc/self/mountinfo | sort -u
}

# Removes the cgroup tree /NAME (NAME must start with berth-peers) from every mounted hierarchy,
# deepest first, killing any process still inside. Prints what it could not remove.
peers_remove_cgroup_tree() {
  local name="${1#/}" h d p
  case "$name" in
    berth-peers*) ;;
    *) peers_log "refusing to remove cgroup /$name: not a berth-peers* cgroup"; return 1 ;;
  esac
  [[ "$name" == */* || "$name" == *..* ]] && { peers_log "refusing to remove cgroup /$name"; return 1; }
  for h in $(peers_cgroup_mounts); do
    [[ -d "$h$name" ]] || continue
    while IFS= read -r d; do
      for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done < <(find "$h$name" -depth -type d 2>/dev/null)
  done
  local i
  for i in $(seq 50); do
    local left=0
    for h in $(peers_cgroup_mounts); do
      [[ -d "$h$name" ]] || continue
      while IFS= read -r d; do rmdir "$d" 2>/dev/null || left=1; done < <(find "$h$name" -depth -type d 2>/dev/null)
    done
    ((left)) || return 0
    sleep 0.1
  done
  for h in $(peers_cgroup_mounts); do
    [[ -d "$h$name" ]] && find "$h$name" -depth -type d
  done
  return 1
}

# rmdir each given directory (deepest given first) if it is empty; never removes contents.
peers_rmdir_if_empty() {
  local d
  for d in "$@"; do [[ -d "$d" ]] && rmdir "$d" 2>/dev/null; done
  return 0
}
