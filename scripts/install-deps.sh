#!/bin/sh
# install-deps.sh: installs the Debian packages kgsup needs to build, test and run its demo, and the
# npm packages named in KGSUP_NPM that tests load (into the build directory).
# Idempotent and quiet when everything is present; needs root (or sudo) only when something is
# missing.
set -eu

# curl (the command), procps (pgrep), tmux (a terminal for the progress bar) and
# python3-networkx (loads the graphml export) are used by the tests, not by kgsup;
# python3-openpyxl remakes the .xlsx test fixtures (tests/fixtures/make-xlsx.py);
# python3-numpy loads the -f npy export (tests/integration/vectors_out.t); python3-yaml reads
# etc/k8s/'s manifests (tests/integration/k8s_local.t)
pkgs="build-essential pkg-config libcurl4-openssl-dev libzmq3-dev liblmdb-dev lmdb-utils
libcjson-dev libcmocka-dev libssl-dev libunistring-dev libcsv-dev libzip-dev libexpat1-dev libxlsxwriter-dev
python3-networkx python3-openpyxl python3-numpy python3-yaml openssl perl python3 ca-certificates curl procps tmux"
[ "${KGSUP_DEPS_EXTRA:-}" ] && pkgs="$pkgs $KGSUP_DEPS_EXTRA"
# Node.js and npm: the npm packages of scripts/install-npm.sh that tests load (kuzu.t,
# thirdparty.t); a Node.js that brings its own npm (NodeSource's) is kept
command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	updated=1
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# packages some tests use where they can be had, named in KGSUP_DEPS_OPTIONAL (`make check`:
# slurm-wlm and munge for tests/cluster/slurm.t): installed only as root, the only user those
# tests run as (elsewhere they say SKIP, and a sudo user's machine gains nothing but a munged);
# not installed (no mirror, none of that name) is a warning, and the test says SKIP
optional=""
[ "$(id -u)" -eq 0 ] || KGSUP_DEPS_OPTIONAL=""
for p in ${KGSUP_DEPS_OPTIONAL:-}; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		optional="$optional $p"
done
if [ -n "$optional" ]; then
	echo "install-deps: installing (optional):$optional" >&2
	# shellcheck disable=SC2086
	if ! { [ -n "${updated:-}" ] || apt-get update -qq >/dev/null 2>&1; } ||
		! env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $optional >/dev/null 2>&1; then
		echo "install-deps: not installed:$optional; the tests that need them skip" >&2
	fi
fi

# npm packages for tests, into the build directory: KGSUP_NPM names them (`make check` sets it)
# shellcheck disable=SC2086
[ -z "${KGSUP_NPM:-}" ] || sh "$(dirname "$0")/install-npm.sh" $KGSUP_NPM
