# Callcast: `make start` serves on the embedded defaults; `make test` runs the whole suite.
# Both install what is missing first (Debian packages as root, npm packages exactly as the
# lockfile says, with npm ci).

NODE_MODULES_STAMP := node_modules/.install-stamp

.PHONY: start test build deps deps-test bench typecheck clean

start: deps build
	CALLCAST_DEV_TOKENS=$${CALLCAST_DEV_TOKENS:-1} node dist/cli.js serve

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
	@# npm ci installs exactly the lockfile (which records every platform's optional binaries, so
	@# it never rewrites it). A node_modules that is a link belongs to another checkout: left alone.
	@if [ -L node_modules ]; then echo "node_modules is a link to $$(readlink node_modules): not reinstalling it from here"; \
	else npm ci --no-audit --no-fund && touch $@; fi

clean:
	rm -rf dist node_modules
