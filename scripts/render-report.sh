#!/bin/sh
# Renders an iocsync HTML report to PNG with Debian's headless Chromium,
# to see it as a browser does. Installs chromium first when missing.
# Usage: scripts/render-report.sh REPORT.html OUT.png [WIDTHxHEIGHT]
set -eu
in=$(realpath "$1") out=$2 size=${3:-1100x2300}
if ! command -v chromium >/dev/null 2>&1; then
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No network: the report has no external resource, and these flags keep
# Chromium from phoning home.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --user-data-dir="$profile" \
	--window-size="$(echo "$size" | tr x ,)" --screenshot="$(realpath -m "$out")" "file://$in" >/dev/null 2>&1
echo "$out"
