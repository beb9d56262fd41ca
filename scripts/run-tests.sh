#!/usr/bin/env bash
# Runs the whole test suite: every test file with the embedded SQLite store, then the store-backed
# suites again against a local PostgreSQL (started here unless CALLCAST_TEST_DATABASE_URL is given).
set -euo pipefail
cd "$(dirname "$0")/.."

files=$(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ -z "$files" ]; then
  echo "no test files found" >&2
  exit 1
fi

echo "== typecheck"
npx tsc -p test/tsconfig.json --noEmit
npx tsc -p web/tsconfig.json --noEmit

echo "== test suite (SQLite store)"
# shellcheck disable=SC2086
node --import tsx --test --test-concurrency=1 --test-timeout=300000 $files

pg_files=$(find test/api test/e2e -name '*.test.ts' 2>/dev/null | sort || true)
if [ -n "$pg_files" ]; then
  echo "== store-backed suites (PostgreSQL store)"
  # shellcheck disable=SC2086
  node --import tsx scripts/with-postgres.ts node --import tsx --test --test-concurrency=1 --test-timeout=300000 $pg_files
fi
