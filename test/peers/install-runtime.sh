#!/usr/bin/env bash
# install-runtime.sh DIR [REAL]
# Installs the logging wrapper (berth-oci-logged.sh) as DIR/bin/berth-oci, running REAL
# (default: this repo's dist/berth-oci.js), logging every call to DIR/oci-calls.log and
# defaulting --root to DIR/oci-root. Prints the wrapper's path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:?usage: install-runtime.sh DIR [REAL]}"
real="${2:-$here/../../dist/berth-oci.js}"

dir="$(mkdir -p "$dir" && cd "$dir" && pwd)"
if [[ "$real" == */* ]]; then
  real="$(cd "$(dirname "$real")" && pwd)/$(basename "$real")"
else
  real="$(command -v "$real")" || { echo "install-runtime.sh: $2 not found" >&2; exit 1; }
fi
[[ -x "$real" ]] || { echo "install-runtime.sh: $real is not an executable (npm run build?)" >&2; exit 1; }

mkdir -p "$dir/bin" "$dir/oci-root"
install -m 0755 "$here/berth-oci-logged.sh" "$dir/bin/berth-oci"
{
  printf 'BERTH_OCI_REAL=%q\n' "$real"
  printf 'BERTH_OCI_CALLS=%q\n' "$dir/oci-calls.log"
  printf 'BERTH_OCI_DEFAULT_ROOT=%q\n' "$dir/oci-root"
} >"$dir/bin/berth-oci.env"
: >>"$dir/oci-calls.log"
echo "$dir/bin/berth-oci"
