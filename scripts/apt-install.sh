#!/usr/bin/env bash
# Installs Debian packages that are missing, safely when several callers do it at once (the
# tests run in parallel): one install at a time through a lock file, and apt itself waits for
# dpkg's lock instead of failing. Needs root. Usage: scripts/apt-install.sh PACKAGE...
set -euo pipefail
[[ $# -gt 0 ]] || exit 0
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -gt 0 ]] || exit 0
exec 9>/var/lock/fgbench-apt.lock
flock 9
# Another caller may have installed them while this one waited.
still=()
for p in "${missing[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || still+=("$p")
done
[[ ${#still[@]} -gt 0 ]] || exit 0
apt=(apt-get -o DPkg::Lock::Timeout=600 -qq)
"${apt[@]}" update
DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y "${still[@]}" >/dev/null
