#!/bin/sh
# Install the Debian packages listed in a list file that are missing.
#
#   install-deps.sh [LIST]   LIST defaults to scripts/deps.txt; `make bench` passes
#                            scripts/deps-bench.txt for the peer engines of the suite.
#
# Runs apt-get only when something is missing, so a ready machine pays nothing.
set -eu
here=$(dirname "$0")
list=${1:-"$here/deps.txt"}
if [ ! -r "$list" ]; then
    echo "install-deps: cannot read package list '$list'" >&2
    exit 2
fi
missing=""
for pkg in $(grep -v '^#' "$list"); do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
