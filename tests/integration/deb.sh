#!/bin/sh
# make deb's packages (issue 21): built by scripts/make-deb (dpkg-buildpackage,
# lintian without error), runtime Depends only, the conffile, the system
# user and state directory made by postinst, then unpacked into a scratch
# root where iocsync --version runs and systemd-analyze verify accepts the
# units with the package's drop-ins; then installed for real, upgraded and
# purged by dpkg in an overlay of this machine's root.
set -u
src=$1
. "$(dirname "$0")/harness.sh"
for tool in dpkg-buildpackage lintian dh; do
	if ! command -v $tool >/dev/null 2>&1; then
		if [ "${CI:-}" = true ]; then
			echo "FAIL: $tool is not installed and CI=true (scripts/install-deps --dev installs it)"
			exit 1
		fi
		echo "SKIPPED: $tool is not installed (scripts/install-deps --deb)"
		exit 77
	fi
done
"$src/scripts/make-deb" "$t/out" >"$t/make-deb.log" 2>&1 && ok || { ko "make-deb:"; cat "$t/make-deb.log"; finish; exit 1; }
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
deb=$(ls "$t"/out/iocsync_"$version"_*.deb)
emu=$(ls "$t"/out/mde-emulator_"$version"_*.deb)
[ -f "$deb" ] && [ -f "$emu" ] && ok || ko "no iocsync and mde-emulator packages in $t/out"
grep -q '^E:' "$t/out/lintian.log" && ko "lintian errors: $(cat "$t/out/lintian.log")" || ok

# Runtime Depends only: no compiler, test tool or -dev package.
depends=$(dpkg-deb -f "$deb" Depends)
case "$depends" in
*-dev* | *clang* | *valgrind* | *cmocka* | *gcc* | *cmake*) ko "iocsync Depends on a build or test tool: $depends" ;;
*libcurl4*) ok ;;
*) ko "iocsync Depends lacks its libraries: $depends" ;;
esac
case $(dpkg-deb -f "$emu" Depends) in *libmicrohttpd*) ok ;; *) ko "mde-emulator Depends lacks libmicrohttpd" ;; esac
case "$depends" in *libmicrohttpd*) ko "iocsync Depends on the emulator's libmicrohttpd" ;; *) ok ;; esac

# The conffile, the user, the state directory, units neither enabled nor started.
dpkg-deb --ctrl-tarfile "$deb" | tar -xf - -C "$t" ./conffiles ./postinst ./postrm
grep -qx /etc/iocsync/iocsync.conf "$t/conffiles" && ok || ko "conffiles: $(cat "$t/conffiles")"
grep -q 'adduser --system --group --quiet --home /var/lib/iocsync' "$t/postinst" && ok || ko "postinst makes no system user"
grep -q 'install -d -o iocsync -g iocsync -m 0750 "$d"' "$t/postinst" && ok || ko "postinst makes no /var/lib/iocsync 0750"
# (an upgrade keeps what the administrator enabled: enable only where it was)
[ "$(grep -c 'deb-systemd-helper enable' "$t/postinst")" = "$(grep -c 'deb-systemd-helper --quiet was-enabled' "$t/postinst")" ] &&
	ok || ko "postinst enables a unit that was not enabled"
grep -q 'deb-systemd-invoke start\|systemctl start' "$t/postinst" && ko "postinst starts a unit before it is configured" || ok
grep -q 'deb-systemd-invoke try-restart iocsync.service' "$t/postinst" && ok || ko "an upgrade does not restart a running daemon"
sh -n "$t/postinst" && sh -n "$t/postrm" && ok || ko "maintainer scripts do not parse"

# Unpacked into a scratch root: the binaries run, the units verify.
root=$t/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -x "$emu" "$root"
got=$("$root/usr/bin/iocsync" --version)
[ "$got" = "iocsync $version" ] && ok || ko "iocsync --version: $got (want iocsync $version)"
"$root/usr/bin/mde-emulator" --help >/dev/null 2>&1 && ok || ko "mde-emulator --help"
"$root/usr/bin/iocsync" -c "$root/etc/iocsync/iocsync.conf" config --check >"$t/c" 2>&1 && ok ||
	{ ko "the packaged /etc/iocsync/iocsync.conf:"; cat "$t/c"; }
for u in iocsync.service iocsync-sync.service iocsync-alert@.service; do
	grep -qx 'User=iocsync' "$root/lib/systemd/system/$u.d/system-user.conf" && ok || ko "$u has no User=iocsync drop-in"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	# (the drop-ins beside each unit are read; the binary is not in /usr/bin here)
	(cd "$root/lib/systemd/system" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify \
		./iocsync.service ./iocsync-sync.service ./iocsync-sync.timer ./iocsync-alert@iocsync.service.service) 2>&1 |
		grep -v -e "Command 'man " -e 'Command /usr/bin/iocsync is not executable' >"$t/v"
	[ -s "$t/v" ] && { ko "systemd-analyze verify:"; cat "$t/v"; } || ok
else
	[ "${CI:-}" = true ] && ko "systemd-analyze is not installed and CI=true" || echo "SKIPPED: systemd-analyze verify"
fi
# Installed for real by dpkg, upgraded from an older version and purged,
# in an overlay of this machine's root (deb_overlay.sh; nothing here is
# written): the conffile kept when edited and replaced when not, the
# state, the user and an enabled timer kept, purge removing them all.
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1; then
	[ "${CI:-}" = true ] && ko "CI=true but not root or no unshare: dpkg -i, upgrade and purge not tried" ||
		echo "SKIPPED: dpkg -i, upgrade and purge in an overlay of / (needs root and unshare)"
else
	older() { # older OUT [LINE]: the package as an older version, LINE added to its conffile
		rm -rf "$t/raw" && dpkg-deb -R "$deb" "$t/raw" &&
			sed -i "s/^Version: .*/Version: $version~older/" "$t/raw/DEBIAN/control" &&
			{ [ -z "${2:-}" ] || echo "$2" >>"$t/raw/etc/iocsync/iocsync.conf"; } &&
			dpkg-deb --root-owner-group -b "$t/raw" "$1" >/dev/null
	}
	older "$t/old.deb" && older "$t/oldconf.deb" "# the older default" && ok || ko "cannot make an older package"
	mkdir -p "$t/ov"
	unshare -m sh "$(dirname "$0")/deb_overlay.sh" "$deb" "$t/old.deb" "$t/oldconf.deb" "$version" "$t/ov" \
		>"$t/ov.log" 2>&1
	if grep -q '^SKIP' "$t/ov.log"; then
		[ "${CI:-}" = true ] && ko "CI=true: $(grep '^SKIP' "$t/ov.log")" ||
			echo "SKIPPED: dpkg -i, upgrade and purge: $(grep '^SKIP: ' "$t/ov.log" | cut -c7-)"
	fi
	while read -r line; do
		case $line in
		ok) ok ;;
		FAIL:*) ko "${line#FAIL: }" ;;
		*) echo "$line" ;;
		esac
	done <"$t/ov.log"
fi
finish
