#!/bin/sh
# make install's layout, staged under a temporary DESTDIR: binaries, man
# pages (groff reports no warning), example configurations (valid), the
# systemd units (systemd-analyze verify finds nothing but the binary not
# being installed for real) and the logrotate snippet.
set -u
build=$1 src=$2
. "$(dirname "$0")/harness.sh"

# The prefix the build was configured with (the units name its bindir).
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
p=${prefix#/}
etc=$p/etc
[ "$prefix" = /usr ] && etc=etc
DESTDIR=$t cmake --install "$build" >"$t/log" 2>&1 || { cat "$t/log"; exit 1; }
for f in $p/bin/iocsync $p/bin/mde-emulator $p/share/man/man1/iocsync.1 $p/share/man/man5/iocsync.conf.5 \
	$p/share/man/man1/mde-emulator.1 $p/share/doc/iocsync/iocsync.conf.example \
	$p/lib/systemd/system/iocsync.service $p/lib/systemd/system/iocsync-sync.service \
	$p/lib/systemd/system/iocsync-sync.timer $p/lib/systemd/system/iocsync-alert@.service \
	$etc/logrotate.d/iocsync; do
	[ -f "$t/$f" ] && ok || ko "not installed: /$f"
done
for m in "$t/$p"/share/man/man1/*.1 "$t/$p"/share/man/man5/*.5; do
	w=$(groff -mdoc -Tutf8 -ww -z "$m" 2>&1)
	[ -z "$w" ] && ok || ko "$m: $w"
	for s in "EXIT STATUS" FILES EXAMPLES; do
		case $m in *mde-emulator*|*.5) [ "$s" = "EXIT STATUS" ] && continue ;; esac
		grep -q "^\.Sh $s" "$m" && ok || ko "$m has no $s section"
	done
done
"$t/$p/bin/iocsync" -c "$t/$p/share/doc/iocsync/iocsync.conf.example" config --check >"$t/c" 2>&1 && ok ||
	{ ko "the installed example configuration:"; cat "$t/c"; }
grep -q "^ExecStart=$prefix/bin/iocsync -c /etc/iocsync/iocsync.conf daemon$" \
	"$t/$p/lib/systemd/system/iocsync.service" && ok || ko "iocsync.service ExecStart"
for u in iocsync.service iocsync-sync.service; do
	for k in NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths= PrivateTmp=yes RestrictAddressFamilies= \
		SystemCallFilter=@system-service LoadCredential=mde-secret:; do
		grep -q "^$k" "$t/$p/lib/systemd/system/$u" && ok || ko "$u lacks $k"
	done
done
for u in iocsync.service iocsync-sync.service; do
	grep -q "^OnFailure=iocsync-alert@%n.service$" "$t/$p/lib/systemd/system/$u" && ok || ko "$u lacks OnFailure="
done
for k in NoNewPrivileges=yes ProtectSystem=strict SystemCallFilter=@system-service DynamicUser=yes StateDirectory=iocsync \
	"ExecStart=$prefix/bin/iocsync -c /etc/iocsync/iocsync.conf alert --failed-unit %i"; do
	grep -q "^$k" "$t/$p/lib/systemd/system/iocsync-alert@.service" && ok || ko "iocsync-alert@.service lacks $k"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	(cd "$t/$p/lib/systemd/system" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --root=/ \
		./iocsync.service ./iocsync-sync.service ./iocsync-sync.timer ./iocsync-alert@iocsync.service.service) 2>&1 |
		grep -v -e 'is not executable' -e "Command 'man " >"$t/v"
	[ -s "$t/v" ] && { ko "systemd-analyze verify:"; cat "$t/v"; } || ok
else
	echo "SKIPPED: systemd-analyze verify (no systemd-analyze here)"
fi
# make install installs what building needs, never a test tool, and does
# not build the test suite.
pk=$("$src/scripts/install-deps" --list)
case " $pk " in
*clang* | *valgrind* | *cmocka* | *strace* | *prometheus* | *lintian*) ko "install-deps (make install) lists a test tool: $pk" ;;
*libcurl4-openssl-dev*) ok ;;
*) ko "install-deps lists no library: $pk" ;;
esac
sed -n '/^install:/,/^$/p' "$src/Makefile" >"$t/mk"
grep -q 'scripts/install-deps$' "$t/mk" && grep -q 'IOCSYNC_TESTS=OFF' "$t/mk" && ! grep -q -- '--dev' "$t/mk" && ok ||
	{ ko "make install's recipe:"; cat "$t/mk"; }
finish
