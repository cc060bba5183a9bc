#!/usr/bin/env bash
# After the suite: the machine must hold nothing berth made. Prints what it
# finds and exits 1 if anything is left, else prints "leakcheck: clean".
set -uo pipefail

# report runs at the end of pipelines: lastpipe keeps it in this shell so found=1 sticks
shopt -s lastpipe
found=0
report() {
  # report TITLE < lines
  local title="$1" lines
  lines="$(cat)"
  if [[ -n "$lines" ]]; then
    found=1
    printf 'leakcheck: %s:\n' "$title"
    printf '%s\n' "$lines" | sed 's/^/  /'
  fi
}

# Mounts (in this mount namespace).
grep -i 'berth' /proc/self/mountinfo | report "mounts mentioning berth"

# Cgroups in every hierarchy (v1 controllers and the v2 unified tree).
find /sys/fs/cgroup -mindepth 1 -maxdepth 5 -type d -iname '*berth*' 2>/dev/null | report "cgroups named *berth*"

# Processes (not this script, its subshells, or the ps/awk doing the looking).
ps -eo pid=,ppid=,stat=,args= 2>/dev/null |
  awk -v self="$$" '
    $1 == self || $2 == self { next }
    /berth-init|berth-oci|berth-monitor|berthd/ { print }
  ' | report "processes running berth-init / berth-oci / berth-monitor / berthd (each test stops the daemons it started)"

# Network namespaces.
if command -v ip >/dev/null 2>&1; then
  ip netns list 2>/dev/null | awk '{print $1}' | grep -i '^berth' | report "network namespaces named berth*"
fi
if [[ -d /run/netns ]]; then
  # Names bound under /run/netns that `ip netns` may not show (e.g. dangling).
  find /run/netns -mindepth 1 -maxdepth 1 -iname 'berth*' 2>/dev/null |
    while read -r f; do
      ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$(basename "$f")" || echo "$f"
    done | report "files under /run/netns named berth*"
fi

# Links: the host ends of containers' veth pairs (vb*), berth's bridges (berth*: the default one
# of a test daemon; berth0 itself is a user's, removed by a reset, not by the tests).
if command -v ip >/dev/null 2>&1; then
  ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -E '^(vb|berth)' | grep -vx 'berth0' | report "links named vb* / berth* (veths, test bridges)"
fi

# Sandboxes: network namespaces bound under a berth exec root.
grep -E ' nsfs ' /proc/self/mountinfo 2>/dev/null | grep -i 'berth' | report "network namespaces bound by berth"

# nftables tables.
if command -v nft >/dev/null 2>&1; then
  nft list tables 2>/dev/null | awk '$1 == "table" && tolower($3) ~ /^berth/ { print }' | report "nft tables named berth*"
fi

# State left in the test runtimes' --root dirs. (.seccomp-cache is the runtime's cache of
# compiled seccomp programs, kept on purpose from one container to the next: no container's state.)
for d in /run/berth-oci-test*; do
  [[ -d "$d" ]] || continue
  find "$d" -mindepth 1 -maxdepth 1 ! -name .seccomp-cache 2>/dev/null
done | report "state left under /run/berth-oci-test*"

if ((found)); then
  echo "leakcheck: FAILED (see above)"
  exit 1
fi
echo "leakcheck: clean"
