#!/usr/bin/env bash
# Builds the .deb with cpack from the build directory and checks it as dpkg and a user see it:
# its control fields (name, computed dependencies, the conflict with Debian's sluice), its
# contents, a stripped program with its symbols in the -dbgsym package, an install with dpkg
# into a private root whose database knows this machine's libraries, the installed program
# running, and dpkg refusing to install Debian's own sluice next to it.
#
#   packaging/deb_test.sh BUILD_DIR
set -euo pipefail
BUILD=$1
WORK=$(mktemp -d /tmp/sluice-deb-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack --config "$BUILD/CPackConfig.cmake" -B "$WORK/out" >"$WORK/cpack.log" 2>&1 ||
  { cat "$WORK/cpack.log" >&2; fail "cpack failed"; }
debs=("$WORK"/out/sluice-osc_*_amd64.deb)
ddebs=("$WORK"/out/sluice-osc-dbgsym_*_amd64.ddeb)
[[ -f ${debs[0]} ]] || fail "no sluice-osc .deb in $(ls "$WORK/out")"
[[ -f ${ddebs[0]} ]] || fail "no sluice-osc-dbgsym .ddeb in $(ls "$WORK/out")"
DEB=${debs[0]}
DDEB=${ddebs[0]}

field() { dpkg-deb -f "$DEB" "$1"; }
[[ $(field Package) == sluice-osc ]] || fail "Package: $(field Package)"
[[ $(field Conflicts) == sluice ]] || fail "Conflicts: '$(field Conflicts)'"
# Not an upgrade of, nor a stand-in for, Debian's sluice.
[[ -z $(field Replaces) && -z $(field Provides) ]] || fail "Replaces/Provides must stay empty"
depends=$(field Depends)
for library in libc6 libstdc++6 libmariadb3 libpq5 libzstd1 libboost-program-options; do
  [[ $depends == *"$library"* ]] || fail "Depends lacks $library: $depends"
done

contents=$(dpkg-deb -c "$DEB" | awk '{print $NF}')
for path in ./usr/bin/sluice ./usr/share/man/man1/sluice.1.gz \
  ./usr/share/bash-completion/completions/sluice ./usr/share/doc/sluice-osc/README.md \
  ./usr/share/doc/sluice-osc/docs/control.md; do
  grep -qx -- "$path" <<<"$contents" || fail "the package lacks $path"
done

# The program is stripped; the -dbgsym package holds its symbols under its build id.
dpkg-deb -x "$DEB" "$WORK/extracted"
description=$(file -b "$WORK/extracted/usr/bin/sluice")
[[ $description == *", stripped"* ]] || fail "/usr/bin/sluice is not stripped: $description"
build_id=$(readelf -n "$WORK/extracted/usr/bin/sluice" | awk '/Build ID/ {print $3}')
[[ -n $build_id ]] || fail "/usr/bin/sluice has no build id"
debug_files=$(dpkg-deb -c "$DDEB")
grep -q "usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug$" <<<"$debug_files" ||
  fail "the dbgsym package has no symbols for build id $build_id"
[[ $(dpkg-deb -f "$DDEB" Depends) == "sluice-osc (= $(field Version))" ]] ||
  fail "dbgsym Depends: $(dpkg-deb -f "$DDEB" Depends)"

# dpkg installs it into a private root whose database holds this machine's entries for the
# packages it depends on (without --force-depends, so the computed Depends must be satisfiable).
ROOT=$WORK/root
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates" "$ROOT/var/lib/dpkg/triggers"
touch "$ROOT/var/lib/dpkg/available"
# A dependency may be virtual (libspdlog1.10-fmt9 is provided by libspdlog1.10).
installed_provider() {
  dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n' |
    sed 's/([^)]*)//g; s/,/ /g' | awk -v name="$1" '$1 == "ii" {
      for (i = 2; i <= NF; i++) if ($i == name && !found) { print $2; found = 1 }
    }'
}
for name in $(sed 's/([^)]*)//g; s/|/,/g; s/,/ /g' <<<"$depends"); do
  package=$(installed_provider "$name")
  [[ -n $package ]] || fail "dependency $name is not installed here"
  { dpkg-query -s "$package"; echo; } >>"$ROOT/var/lib/dpkg/status"
done
dpkg --root="$ROOT" -i "$DEB" >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg -i"; }
[[ $(dpkg --root="$ROOT" -s sluice-osc | grep '^Status:') == "Status: install ok installed" ]] ||
  fail "sluice-osc is not installed in the private root"
version=$("$ROOT/usr/bin/sluice" --version)
[[ $version == "sluice $(field Version)" ]] || fail "installed sluice --version: '$version'"

# Debian's sluice (stand-in: same name, version and file) must be refused while ours is installed.
mkdir -p "$WORK/debian-sluice/DEBIAN" "$WORK/debian-sluice/usr/bin"
printf '#!/bin/sh\necho rate-limiting pipe\n' >"$WORK/debian-sluice/usr/bin/sluice"
chmod 755 "$WORK/debian-sluice/usr/bin/sluice"
printf 'Package: sluice\nVersion: 0.02.15-1\nArchitecture: all\nMaintainer: test <test@invalid>\nDescription: stand-in for Debian'"'"'s sluice\n' \
  >"$WORK/debian-sluice/DEBIAN/control"
dpkg-deb --build "$WORK/debian-sluice" "$WORK/debian-sluice.deb" >/dev/null
if dpkg --root="$ROOT" -i "$WORK/debian-sluice.deb" >"$WORK/conflict.log" 2>&1; then
  fail "dpkg installed Debian's sluice over sluice-osc"
fi
grep -q "conflicts with sluice" "$WORK/conflict.log" || grep -q "conflicting packages" "$WORK/conflict.log" ||
  { cat "$WORK/conflict.log" >&2; fail "dpkg refused Debian's sluice for another reason"; }
[[ $("$ROOT/usr/bin/sluice" --version) == "$version" ]] || fail "/usr/bin/sluice was overwritten"
echo "PASS: $(basename "$DEB") ($(stat -c %s "$DEB") bytes; /usr/bin/sluice" \
  "$(stat -c %s "$WORK/extracted/usr/bin/sluice") bytes stripped), $(basename "$DDEB"), Depends: $depends"
