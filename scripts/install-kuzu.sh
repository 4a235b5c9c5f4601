#!/bin/sh
# install-kuzu.sh: the kuzu npm package (an embedded graph database, a prebuilt Node.js addon)
# in build/npm, where tests/integration/kuzu.t loads the kuzu export with it. Run by
# install-deps.sh; quiet, and nothing to do once the pinned version loads. Not reaching the
# registry is a warning, not a failure: the test then skips. KGSUP_NPM_DIR: another directory.
set -u
KUZU_VERSION=0.11.3
dir=${KGSUP_NPM_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build/npm}

loads() {
	node -e 'const k = require(process.argv[1] + "/node_modules/kuzu");
		process.exit(k.VERSION === process.argv[2] ? 0 : 1)' "$dir" "$KUZU_VERSION" 2>/dev/null
}

loads && exit 0
if ! command -v npm >/dev/null 2>&1; then
	echo "install-kuzu: npm is missing (scripts/install-deps.sh installs it)" >&2
	exit 1
fi
mkdir -p "$dir" || exit 1
echo "install-kuzu: npm install kuzu@$KUZU_VERSION into $dir" >&2
# few retries: a registry out of reach fails in seconds, not minutes
if ! npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
	--fetch-retries=1 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000 \
	"kuzu@$KUZU_VERSION" >"$dir/install.log" 2>&1 || ! loads; then
	echo "install-kuzu: kuzu@$KUZU_VERSION not installed (see $dir/install.log);" \
		"tests/integration/kuzu.t skips if npm cannot reach its registry" >&2
fi
exit 0
