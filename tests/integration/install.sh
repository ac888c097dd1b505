#!/bin/sh
# make install's layout, staged under a temporary DESTDIR: binaries, man
# pages (groff reports no warning), example configurations (valid), the
# systemd units (systemd-analyze verify finds nothing but the binary not
# being installed for real) and the logrotate snippet.
set -u
build=$1 src=$2
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }

DESTDIR=$t cmake --install "$build" --prefix /usr >"$t/log" 2>&1 || { cat "$t/log"; exit 1; }
for f in usr/bin/iocsync usr/bin/mde-emulator usr/share/man/man1/iocsync.1 usr/share/man/man5/iocsync.conf.5 \
	usr/share/man/man1/mde-emulator.1 usr/share/doc/iocsync/iocsync.conf.example \
	usr/lib/systemd/system/iocsync.service usr/lib/systemd/system/iocsync-sync.service \
	usr/lib/systemd/system/iocsync-sync.timer etc/logrotate.d/iocsync; do
	[ -f "$t/$f" ] && ok || ko "not installed: /$f"
done
for m in "$t"/usr/share/man/man1/*.1 "$t"/usr/share/man/man5/*.5; do
	w=$(groff -mdoc -Tutf8 -ww -z "$m" 2>&1)
	[ -z "$w" ] && ok || ko "$m: $w"
	for s in "EXIT STATUS" FILES EXAMPLES; do
		case $m in *mde-emulator*|*.5) [ "$s" = "EXIT STATUS" ] && continue ;; esac
		grep -q "^\.Sh $s" "$m" && ok || ko "$m has no $s section"
	done
done
"$t/usr/bin/iocsync" -c "$t/usr/share/doc/iocsync/iocsync.conf.example" config --check >"$t/c" 2>&1 && ok ||
	{ ko "the installed example configuration:"; cat "$t/c"; }
grep -q "^ExecStart=/usr/bin/iocsync -c /etc/iocsync/iocsync.conf daemon$" \
	"$t/usr/lib/systemd/system/iocsync.service" && ok || ko "iocsync.service ExecStart"
for u in iocsync.service iocsync-sync.service; do
	for k in NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths= PrivateTmp=yes RestrictAddressFamilies= \
		SystemCallFilter=@system-service LoadCredential=mde-secret:; do
		grep -q "^$k" "$t/usr/lib/systemd/system/$u" && ok || ko "$u lacks $k"
	done
done
if command -v systemd-analyze >/dev/null 2>&1; then
	(cd "$t/usr/lib/systemd/system" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --root=/ \
		./iocsync.service ./iocsync-sync.service ./iocsync-sync.timer) 2>&1 |
		grep -v -e 'is not executable' -e "Command 'man " >"$t/v"
	[ -s "$t/v" ] && { ko "systemd-analyze verify:"; cat "$t/v"; } || ok
else
	echo "SKIPPED: systemd-analyze verify (no systemd-analyze here)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
