#!/bin/sh
# A logging stand-in for berth-oci, used by the peer tests (test/integration/oci-peers.test.ts).
#
# Installed by `install-runtime.sh DIR REAL` as DIR/bin/berth-oci next to DIR/bin/berth-oci.env,
# which sets:
#   BERTH_OCI_REAL          the runtime to run (dist/berth-oci.js, or runc for a control run)
#   BERTH_OCI_CALLS         the file each call is appended to
#   BERTH_OCI_DEFAULT_ROOT  --root given first, so that a peer that passes no --root (podman)
#                           keeps its state under DIR; a peer's own --root comes later and wins
#
# Each call appends `HH:MM:SS.N PID call: ARGS` and `HH:MM:SS.N PID rc=N` to BERTH_OCI_CALLS.
# The output of the read-only commands (state, ps, list, features, version) is logged as well.
# The stdio of create/run/exec/start are left alone: they are the container's own stdio.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/berth-oci.env"

now() { date +%H:%M:%S.%N; }
log() { printf '%s %s %s\n' "$(now)" "$$" "$*" >>"$BERTH_OCI_CALLS"; }

log "call: $*"

# The subcommand: the first word that is neither a global flag nor a global flag's value.
cmd=""
skip=0
for a in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in
    --root|--log|--log-format|--criu|--rootless) skip=1 ;;
    -*) ;;
    *) cmd="$a"; break ;;
  esac
done

case "$cmd" in
  state|ps|list|features|version|events)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/berth-oci-logged.XXXXXX")
    "$BERTH_OCI_REAL" --root "$BERTH_OCI_DEFAULT_ROOT" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    cat "$tmp/out"
    cat "$tmp/err" >&2
    { printf '%s %s stdout: ' "$(now)" "$$"; tr '\n' ' ' <"$tmp/out"; printf '\n'
      if [ -s "$tmp/err" ]; then printf '%s %s stderr: ' "$(now)" "$$"; tr '\n' ' ' <"$tmp/err"; printf '\n'; fi
    } >>"$BERTH_OCI_CALLS"
    rm -rf "$tmp"
    ;;
  *)
    "$BERTH_OCI_REAL" --root "$BERTH_OCI_DEFAULT_ROOT" "$@"
    rc=$?
    ;;
esac
log "rc=$rc"
exit "$rc"
