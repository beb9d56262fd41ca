# Callcast: `make start` serves on the embedded defaults; `make test` runs the whole suite.
# Both install what is missing first (Debian packages as root, npm packages from the lockfile).

NODE_MODULES_STAMP := node_modules/.install-stamp

.PHONY: start test build deps deps-test bench typecheck clean

start: deps build
	CALLCAST_DEV_TOKENS=$${CALLCAST_DEV_TOKENS:-1} CALLCAST_RTMP_ALLOW=$${CALLCAST_RTMP_ALLOW:-127.0.0.1,::1} node dist/cli.js serve

test: deps-test build
	scripts/run-tests.sh

bench: deps-test build
	npm run bench

build: $(NODE_MODULES_STAMP)
	npx tsc -p tsconfig.json
	npm run --silent build:web

typecheck: $(NODE_MODULES_STAMP)
	npx tsc -p test/tsconfig.json --noEmit
	npx tsc -p web/tsconfig.json --noEmit

deps: $(NODE_MODULES_STAMP)
	scripts/install-system-deps.sh runtime

deps-test: $(NODE_MODULES_STAMP)
	scripts/install-system-deps.sh test

$(NODE_MODULES_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ with npm is required" >&2; exit 1; }
	# npm install (not npm ci): it follows the lockfile, and unlike npm 11's ci it accepts the
	# lockfile's missing entries for other platforms' optional binaries (@napi-rs/canvas).
	npm install --no-audit --no-fund
	@touch $@

clean:
	rm -rf dist node_modules
