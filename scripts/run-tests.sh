#!/usr/bin/env bash
# Runs the test suite: every test file with the embedded SQLite store, and the store-backed suites
# (test/api, test/e2e) again against a local PostgreSQL (started here unless
# CALLCAST_TEST_DATABASE_URL is given).
#
# Two lanes run side by side, each one file at a time:
#   media  the files that run encoders, decoders, browsers or media peers (they hold the CPU and
#          are sensitive to load): listed in scripts/media-lane.txt;
#   other  everything else: pure units, API tests through the SDK, and the scenarios that mostly
#          wait (a receiver outage, a store outage).
# Each lane's output is TAP; the media lane's streams as it runs, the other lane's is printed when
# both have finished. The run fails when either lane does.
#
# `scripts/run-tests.sh --lanes` prints which file runs in which lane. With file arguments, runs only those files (SQLite store), one at a time, with the same runner
# settings. `make test` runs `make check` (lint, format check, typechecks) before this.
set -euo pipefail
cd "$(dirname "$0")/.."

# One place for the runner settings: one file at a time per lane, and one timeout per test.
RUNNER=(node --import tsx --test --test-concurrency=1 --test-timeout=300000)

if [ "$#" -gt 0 ] && [ "$1" != "--lanes" ]; then
  exec "${RUNNER[@]}" "$@"
fi

if [ "${1:-}" != "--lanes" ] && [ -z "${CALLCAST_TEST_LANES_PG:-}" ]; then
  # Start PostgreSQL once for both lanes (each test server makes its own schema in it), then come
  # back here with its URL.
  exec node --import tsx scripts/with-postgres.ts env CALLCAST_TEST_LANES_PG=1 "$0"
fi
pg_url=${CALLCAST_TEST_DATABASE_URL:-}
unset CALLCAST_TEST_DATABASE_URL

all=$(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ -z "$all" ]; then
  echo "no test files found" >&2
  exit 1
fi
# The media lane's list: one path per line (a path ending in / takes every file under it), `#`
# comments; every listed path must exist.
media_list=$(grep -v '^\s*#' scripts/media-lane.txt | sed '/^\s*$/d')
for f in $media_list; do
  [ -e "$f" ] || { echo "scripts/media-lane.txt lists $f, which does not exist" >&2; exit 1; }
done
in_media_lane() {
  local f=$1 entry
  for entry in $media_list; do
    case $entry in
      */) [[ $f == "$entry"* ]] && return 0 ;;
      *) [[ $f == "$entry" ]] && return 0 ;;
    esac
  done
  return 1
}
media=""
other=""
for f in $all; do
  if in_media_lane "$f"; then media+="$f"$'\n'; else other+="$f"$'\n'; fi
done
if [ "${1:-}" = "--lanes" ]; then
  echo "media lane:"; echo "$media" | sed '/^$/d; s/^/  /'
  echo "other lane:"; echo "$other" | sed '/^$/d; s/^/  /'
  exit 0
fi
# Run again on PostgreSQL: the API suites and the end-to-end files whose state goes through the
# store (broadcast state, recordings, a crash and restart). The media-only end-to-end files
# (qualities, composition, screen sharing) do not touch the store beyond what these cover.
# The cluster suites need PostgreSQL (cluster mode refuses SQLite): they skip on the SQLite pass.
store_backed() { grep -E '^test/(api/|cluster/|e2e/(broadcast-sdk|hls-recordings|recording-crash)\.test\.ts$)' || true; }

lane() {
  local name=$1 files=$2
  local pg_files
  pg_files=$(echo "$files" | store_backed)
  local status=0
  echo "== $name lane: SQLite store ($(echo "$files" | wc -w) files)"
  # shellcheck disable=SC2086
  "${RUNNER[@]}" $files || status=1
  if [ -n "$pg_files" ]; then
    echo "== $name lane: store-backed suites on PostgreSQL ($(echo "$pg_files" | wc -w) files)"
    # shellcheck disable=SC2086
    CALLCAST_TEST_DATABASE_URL=$pg_url "${RUNNER[@]}" $pg_files || status=1
  fi
  return $status
}

other_log=$(mktemp -t callcast-tests-other.XXXXXX)
trap 'rm -f "$other_log"' EXIT
started=$(date +%s)
lane other "$other" >"$other_log" 2>&1 &
other_pid=$!
media_status=0
lane media "$media" || media_status=1
echo "== media lane done after $(($(date +%s) - started)) s"
other_status=0
wait "$other_pid" || other_status=1
echo "== other lane (ran beside the media lane):"
cat "$other_log"
echo "== both lanes done after $(($(date +%s) - started)) s (media: $([ $media_status = 0 ] && echo pass || echo FAIL), other: $([ $other_status = 0 ] && echo pass || echo FAIL))"
[ $media_status = 0 ] && [ $other_status = 0 ]
