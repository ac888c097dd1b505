#!/bin/sh
# The packages installed for real by dpkg, upgraded and purged, in an
# overlay of this machine's root: deb.sh runs it under `unshare -m`, so
# the overlay (on a tmpfs of its own) goes with the mount namespace and
# this machine's files are never written. Prints one line per check,
# "ok" or "FAIL: ...", or "SKIP: why" when it cannot mount.
# Usage (as root, in a private mount namespace):
#   deb_overlay.sh NEW.deb OLD-SAME-CONFFILE.deb OLD-OTHER-CONFFILE.deb VERSION DIR
set -u
new=$1 old=$2 oldconf=$3 version=$4 ov=$5
mount -t tmpfs tmpfs "$ov" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs"; exit 0; }
mkdir -p "$ov/u" "$ov/w" "$ov/root"
r=$ov/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$ov/u,workdir=$ov/w" "$r" 2>/dev/null ||
	{ echo "SKIP: cannot mount an overlay of /"; exit 0; }
mount --bind /dev "$r/dev" && mount -t proc proc "$r/proc" && mount -t tmpfs tmpfs "$r/tmp" &&
	mount -t tmpfs tmpfs "$r/run" || { echo "SKIP: cannot mount /dev, /proc, /tmp and /run in the overlay"; exit 0; }
# (an empty /run: no /run/systemd/system, so nothing is started or
# restarted, as in any chroot)
cp "$new" "$r/tmp/new.deb" && cp "$old" "$r/tmp/old.deb" && cp "$oldconf" "$r/tmp/oldconf.deb"

inside() { chroot "$r" "$@"; }
check() { # check WHAT COMMAND...
	what=$1
	shift
	if "$@" >/dev/null 2>&1; then echo ok; else echo "FAIL: $what"; fi
}
dpkg_i() { # dpkg_i DEB: never waits on a question (a conffile prompt is a failure)
	inside timeout 120 dpkg -i "$1" </dev/null >"$ov/dpkg.log" 2>&1 ||
		{ echo "FAIL: dpkg -i $1:"; sed 's/^/  | /' "$ov/dpkg.log"; }
}
mode_of() { inside stat -c "%a %U:%G" "$1" 2>/dev/null; }
conf=/etc/iocsync/iocsync.conf
timer=/etc/systemd/system/timers.target.wants/iocsync-sync.timer
service=/etc/systemd/system/multi-user.target.wants/iocsync.service

# A machine that had iocsync before: start from none (in the overlay only).
inside dpkg --purge iocsync mde-emulator >/dev/null 2>&1
inside deluser --system --quiet iocsync >/dev/null 2>&1
rm -rf "$r/etc/iocsync" "$r/var/lib/iocsync" "$r/var/log/iocsync"

# First install: the user, the directories, the conffile; nothing enabled.
dpkg_i /tmp/old.deb
check "postinst made no system user iocsync" inside getent passwd iocsync
case $(inside getent passwd iocsync | cut -d: -f6,7) in
/var/lib/iocsync:/usr/sbin/nologin | /var/lib/iocsync:/bin/false) echo ok ;;
*) echo "FAIL: the user iocsync: $(inside getent passwd iocsync)" ;;
esac
[ "$(mode_of /var/lib/iocsync)" = "750 iocsync:iocsync" ] && echo ok ||
	echo "FAIL: /var/lib/iocsync is $(mode_of /var/lib/iocsync), not 750 iocsync:iocsync"
[ "$(mode_of /var/log/iocsync)" = "750 iocsync:iocsync" ] && echo ok ||
	echo "FAIL: /var/log/iocsync is $(mode_of /var/log/iocsync), not 750 iocsync:iocsync"
check "no $conf after install" test -f "$r$conf"
check "a unit enabled by the install" test ! -e "$r$timer" -a ! -e "$r$service"

# What an administrator does: edits the conffile, enables the timer;
# a run leaves its state.
echo "# edited on this machine" >>"$r$conf"
mkdir -p "$(dirname "$r$timer")"
inside systemctl enable iocsync-sync.timer >/dev/null 2>&1 || ln -sf /lib/systemd/system/iocsync-sync.timer "$r$timer"
echo "the state" >"$r/var/lib/iocsync/state.db"
inside chown iocsync:iocsync /var/lib/iocsync/state.db

# The upgrade: the edited conffile, the state, the user and the enabled
# timer stay; the new binary is in place; nothing else is enabled.
dpkg_i /tmp/new.deb
check "the upgrade lost the conffile's edit" grep -qx "# edited on this machine" "$r$conf"
got=$(inside iocsync --version 2>&1)
[ "$got" = "iocsync $version" ] && echo ok || echo "FAIL: after the upgrade iocsync --version says $got"
check "the upgrade lost the state" grep -qx "the state" "$r/var/lib/iocsync/state.db"
[ "$(grep -c '^iocsync:' "$r/etc/passwd")" = 1 ] && echo ok || echo "FAIL: the user iocsync is not there once"
check "the upgrade disabled the timer the administrator enabled" test -L "$r$timer"
check "the upgrade enabled the daemon" test ! -e "$r$service"
case $(inside dpkg-query -W -f '${Status} ${Version}' iocsync) in
"install ok installed $version") echo ok ;;
*) echo "FAIL: dpkg says $(inside dpkg-query -W -f '${Status} ${Version}' iocsync)" ;;
esac

# Purge: the conffile, the state, the logs and the user go (the runbook's
# last step says so).
inside dpkg --purge iocsync >"$ov/dpkg.log" 2>&1 || { echo "FAIL: dpkg --purge:"; sed 's/^/  | /' "$ov/dpkg.log"; }
check "purge left /etc/iocsync" test ! -e "$r/etc/iocsync"
check "purge left /var/lib/iocsync" test ! -e "$r/var/lib/iocsync"
check "purge left /var/log/iocsync" test ! -e "$r/var/log/iocsync"
check "purge left the user iocsync" test -z "$(inside getent passwd iocsync)"
check "purge left the enabled timer" test ! -e "$r$timer"

# A conffile the package changed and nobody edited is replaced, silently.
dpkg_i /tmp/oldconf.deb
check "the older package did not install its own conffile" grep -q "^# the older default" "$r$conf"
dpkg_i /tmp/new.deb
check "the upgrade kept an older conffile nobody edited" sh -c "! grep -q '^# the older default' '$r$conf'"
inside dpkg --purge iocsync >/dev/null 2>&1
exit 0
