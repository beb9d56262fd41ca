#!/usr/bin/env bash
# Runs the test suite: every test file with the embedded SQLite store, then the store-backed suites
# again against a local PostgreSQL (started here unless CALLCAST_TEST_DATABASE_URL is given).
# With file arguments, runs only those files (SQLite store), with the same runner settings.
# `make test` runs `make check` (lint, format check, typechecks) before this.
set -euo pipefail
cd "$(dirname "$0")/.."

# One place for the runner settings: one file at a time (the machine is small and media tests are
# heavy), and one timeout per test.
RUNNER=(node --import tsx --test --test-concurrency=1 --test-timeout=300000)

if [ "$#" -gt 0 ]; then
  exec "${RUNNER[@]}" "$@"
fi

files=$(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ -z "$files" ]; then
  echo "no test files found" >&2
  exit 1
fi

echo "== test suite (SQLite store)"
# shellcheck disable=SC2086
"${RUNNER[@]}" $files

pg_files=$(find test/api test/e2e -name '*.test.ts' 2>/dev/null | sort || true)
if [ -n "$pg_files" ]; then
  echo "== store-backed suites (PostgreSQL store)"
  # shellcheck disable=SC2086
  node --import tsx scripts/with-postgres.ts "${RUNNER[@]}" $pg_files
fi
