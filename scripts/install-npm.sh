#!/bin/sh
# install-npm.sh NAME...: the npm packages tests load, each pinned, in build/npm (never
# system-wide). Run by install-deps.sh for the names in KGSUP_NPM (`make check` sets it), and by
# a test that finds its package missing. Quiet, and nothing to do once the pinned version is
# there. Not reaching the registry is a warning, not a failure: the test then skips (after
# `npm ping` fails). KGSUP_NPM_DIR: another directory.
set -u
dir=${KGSUP_NPM_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build/npm}

# NAME  PACKAGE  VERSION  CHECK (load: require it, as a prebuilt addon must load; version: its
# package.json only, for a package whose main starts a server). Used by:
#   kuzu      tests/integration/kuzu.t loads the kuzu export with it (an embedded graph database)
#   mock-llm  tests/integration/thirdparty.t: an OpenAI-compatible server nobody here wrote
#   k8s-client, k8s-models  tests/integration/k8s_local.t checks etc/k8s/ against the Kubernetes
#             API's models with them (ES modules, loaded by path: version only)
packages="kuzu kuzu 0.11.3 load
mock-llm @dwmkerr/mock-llm 0.1.29 version
k8s-client @kubernetes/client-node 2.0.1 version
k8s-models kubernetes-models 5.1.0 version"

# there PACKAGE VERSION CHECK: the pinned version is installed (and loads)
there() {
	node -e 'const d = process.argv[1] + "/node_modules/" + process.argv[2];
		if (require(d + "/package.json").version !== process.argv[3]) process.exit(1);
		if (process.argv[4] === "load") require(d);' "$dir" "$1" "$2" "$3" 2>/dev/null
}

install_one() {
	there "$1" "$2" "$3" && return 0
	if ! command -v npm >/dev/null 2>&1; then
		echo "install-npm: npm is missing (scripts/install-deps.sh installs it)" >&2
		return 1
	fi
	mkdir -p "$dir" || return 1
	echo "install-npm: npm install $1@$2 into $dir" >&2
	log=$dir/install-$(echo "$1" | tr '/@' '__').log
	# saved in its package.json, so that installing one does not prune the others; few
	# retries: a registry out of reach fails in seconds, not minutes
	if ! npm install --prefix "$dir" --save-exact --no-audit --no-fund --loglevel=error \
		--fetch-retries=1 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000 \
		"$1@$2" >"$log" 2>&1 || ! there "$1" "$2" "$3"; then
		echo "install-npm: $1@$2 not installed (see $log); its test skips if npm cannot" \
			"reach its registry" >&2
	fi
	return 0
}

rc=0
for name in "$@"; do
	row=$(echo "$packages" | awk -v n="$name" '$1 == n')
	if [ -z "$row" ]; then
		echo "install-npm: $name is not one of: $(echo "$packages" | awk '{ printf "%s ", $1 }')" >&2
		rc=2
		continue
	fi
	# shellcheck disable=SC2086
	set -- $row
	install_one "$2" "$3" "$4" || rc=1
done
exit $rc
