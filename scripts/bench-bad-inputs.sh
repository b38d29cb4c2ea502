#!/usr/bin/env bash
# The bad-input catalogue's time and memory figures: runs tests/bad_inputs.rs (every case in
# tests/bad-inputs/expected.yaml, huge inputs generated) against the release binary, prints the
# per-case table, and reports the slowest case and the largest peak RSS against the targets
# (< 5 s wall and < 1 GiB per case, issue 8). The test itself asserts correctness, the memory
# bound and a 20 s hang kill, but never a time: that is this script's job.
#
#   scripts/bench-bad-inputs.sh [--debug]
#
# --debug measures the debug binary instead (slower; the table in docs/robustness.md says
# which). Exits 1 when a case fails or a case takes 5 s or more.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=target/release/meshdoctor
if [ "${1:-}" = "--debug" ]; then
  cargo build --quiet --bin meshdoctor
  bin=target/debug/meshdoctor
else
  cargo build --release --quiet --bin meshdoctor
fi

tsv=$(mktemp)
trap 'rm -f "$tsv"' EXIT
# The harness stays a debug build; only the binary it runs is the release one.
MESHDOCTOR_BIN="$root/$bin" BAD_INPUTS_TSV="$tsv" cargo test --quiet --test bad_inputs -- \
  --nocapture every_bad_input

awk -F'\t' '
  { n++; if ($3 > t) { t = $3; tc = $1 } if ($4 > m) { m = $4; mc = $1 } }
  END {
    printf "binary: '"$bin"'\ncases: %d\nslowest: %.2f s (%s)\nlargest peak RSS: %d MiB (%s)\n", n, t, tc, m, mc
    if (t >= 5) { print "FAIL: a case took 5 s or more"; exit 1 }
    if (m >= 1024) { print "FAIL: a case used 1 GiB or more"; exit 1 }
    print "ok: every case under 5 s and 1 GiB"
  }' "$tsv"
