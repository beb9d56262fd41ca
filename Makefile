# Callcast: `make start` serves on the embedded defaults; `make test` runs `make check` and then the
# whole suite; `make check` runs the linter, the formatter check and the three typechecks.
# All install what is missing first (Debian packages as root, npm packages exactly as the
# lockfile says, with npm ci).

NODE_MODULES_STAMP := node_modules/.install-stamp

.PHONY: start test check lint format typecheck build deps deps-test bench clean

start: deps build
	CALLCAST_DEV_TOKENS=$${CALLCAST_DEV_TOKENS:-1} CALLCAST_RTMP_ALLOW=$${CALLCAST_RTMP_ALLOW:-127.0.0.1,::1} node dist/cli.js serve

test: deps-test check build
	scripts/run-tests.sh

# Lint (Biome), formatter check (Biome, changes nothing: `make format` applies it), and the
# typechecks of src (tsconfig.json), test and bench (test/tsconfig.json) and web (web/tsconfig.json).
check: $(NODE_MODULES_STAMP)
	npm run --silent check

lint: $(NODE_MODULES_STAMP)
	npm run --silent lint

format: $(NODE_MODULES_STAMP)
	npm run --silent format

typecheck: $(NODE_MODULES_STAMP)
	npm run --silent typecheck

bench: deps-test build
	npm run bench

build: $(NODE_MODULES_STAMP)
	npx tsc -p tsconfig.json
	npm run --silent build:web

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
