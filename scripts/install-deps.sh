#!/bin/sh
# install-deps.sh: installs the Debian packages kgsup needs to build, test and run its demo,
# then the npm packages the tests use (pinned, into the build directory, never system-wide).
# Idempotent and quiet when everything is present; needs root (or sudo) only when a Debian
# package is missing. `install-deps.sh npm` does the npm packages only (a test that finds
# them missing).
set -eu

# curl (the command), procps (pgrep), tmux (a terminal for the progress bar) and
# python3-networkx (loads the graphml export) are used by the tests, not by kgsup;
# python3-openpyxl remakes the .xlsx test fixtures (tests/fixtures/make-xlsx.py); nodejs and
# npm run the npm packages below
pkgs="build-essential pkg-config libcurl4-openssl-dev libzmq3-dev liblmdb-dev lmdb-utils
libcjson-dev libcmocka-dev libssl-dev libunistring-dev libcsv-dev libzip-dev libexpat1-dev libxlsxwriter-dev
python3-networkx python3-openpyxl openssl perl python3 ca-certificates curl procps tmux nodejs npm"
[ "${KGSUP_DEPS_EXTRA:-}" ] && pkgs="$pkgs $KGSUP_DEPS_EXTRA"
# packages whose command is enough, wherever it came from (NodeSource's nodejs brings its own
# npm, and conflicts with Debian's)
cmd_pkgs="npm"

# npm packages, one a line: NAME VERSION USED BY
#   @dwmkerr/mock-llm: an OpenAI-compatible server nobody here wrote (tests/integration/thirdparty.t)
npm_pkgs="@dwmkerr/mock-llm 0.1.29"
npm_dir=${KGSUP_NPM_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build/npm}

debian() {
	missing=""
	for p in $pkgs; do
		case " $cmd_pkgs " in *" $p "*) command -v "$p" >/dev/null && continue ;; esac
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "install-deps: installing:$missing" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# A package whose package.json has the pinned version is there already. npm failing (no
# registry: an offline machine) is said, not fatal: the tests that need the package say why
# they skip, after looking whether the registry can be reached.
npm_pkgs_install() {
	echo "$npm_pkgs" | while read -r name version; do
		[ -n "$name" ] || continue
		have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' \
			"$npm_dir/node_modules/$name/package.json" 2>/dev/null || true)
		[ "$have" = "$version" ] && continue
		echo "install-deps: npm install $name@$version into $npm_dir" >&2
		mkdir -p "$npm_dir"
		npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error --no-progress \
			"$name@$version" >/dev/null ||
			echo "install-deps: npm could not install $name@$version (see above)" >&2
	done
}

[ "${1:-}" = npm ] || debian
npm_pkgs_install
