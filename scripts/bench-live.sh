#!/usr/bin/env bash
# Live-mode benchmark: `meshdoctor check -A` against the test API server holding a synthetic
# cluster (default 5,000 pods in 200 namespaces, 20 ms latency per request), side by side with
# `kubectl get pods -A -o json` against the same server. Prints the request count, the
# median wall time and the highest peak RSS of each, and their ratio (target of issue 14:
# meshdoctor <= 1.2x kubectl at 150,000 pods, 20 ms per request).
#
#   scripts/bench-live.sh [RUNS] [NAMESPACES] [PODS] [LATENCY_MS]
#   scripts/bench-live.sh 3 900 150000 20      # Kubernetes' own limit
#
# The mesh machinery (istiod, its webhooks and certificates) comes from FIXTURE (default
# fixtures/demo); the generated namespaces and pods are added to it.
#
# Builds the release binary and the server example first.
set -euo pipefail

runs=${1:-5}
namespaces=${2:-200}
pods=${3:-5000}
latency=${4:-20}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# kubectl 1.33 from the PyPI package the tests use (scripts/install-tools.sh), not whatever is
# on PATH, so that runs on different machines compare the same client.
PATH="$(scripts/install-tools.sh):$PATH"
export PATH
[ -x /usr/bin/time ] || { echo "bench-live: installing GNU time" >&2; apt-get install -y -qq time >/dev/null; }
cargo build --release --quiet --bin meshdoctor --example fake_apiserver

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fixture=${FIXTURE:-fixtures/demo}
[ -e "$fixture" ] || { echo "bench-live: no fixture $fixture" >&2; exit 2; }
target/release/examples/fake_apiserver --fixture "$fixture" \
  --synthetic "$namespaces:$pods" --latency-ms "$latency" >"$work/url" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -n1 "$work/url")
[ -n "$url" ] || { echo "bench-live: the server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

cat >"$work/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: bench
clusters:
- name: bench
  cluster: {server: $url}
contexts:
- name: bench
  context: {cluster: bench, user: bench, namespace: default}
users:
- name: bench
  user: {token: bench}
KC
export KUBECONFIG="$work/kubeconfig" HOME="$work"

now_ms() { date +%s%3N; }
requests() { curl -s "$url/_fake/log" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
clear_log() { curl -s "$url/_fake/clear-log" >/dev/null; }

# One timed run of "$@"; prints "milliseconds requests peak-RSS-KB".
measure() {
  clear_log
  local t0 t1
  t0=$(now_ms)
  /usr/bin/time -f "%M" -o "$work/rss" "$@" >/dev/null
  t1=$(now_ms)
  echo "$((t1 - t0)) $(requests) $(tail -n1 "$work/rss")"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

kubectl_cmd=(kubectl get pods -A -o json)
meshdoctor_cmd=(target/release/meshdoctor check -A -o json --fail-on never)

# Warm-up: kubectl fills its discovery cache (in $HOME), both warm the server.
"${kubectl_cmd[@]}" >/dev/null
"${meshdoctor_cmd[@]}" >/dev/null

k_times=() m_times=() k_rss=0 m_rss=0
for _ in $(seq "$runs"); do
  read -r kt kr krss < <(measure "${kubectl_cmd[@]}")
  read -r mt mr mrss < <(measure "${meshdoctor_cmd[@]}")
  k_times+=("$kt"); m_times+=("$mt")
  (( krss > k_rss )) && k_rss=$krss
  (( mrss > m_rss )) && m_rss=$mrss
done
k_med=$(printf '%s\n' "${k_times[@]}" | median)
m_med=$(printf '%s\n' "${m_times[@]}" | median)

echo "cluster: $pods pods in $namespaces namespaces, ${latency} ms latency per request, $runs runs"
printf '%-42s %8s %10s %10s   %s\n' "command" "requests" "median ms" "peak MiB" "all runs (ms)"
printf '%-42s %8s %10s %10s   %s\n' "kubectl get pods -A -o json" "$kr" "$k_med" "$((k_rss / 1024))" "${k_times[*]}"
printf '%-42s %8s %10s %10s   %s\n' "meshdoctor check -A -o json" "$mr" "$m_med" "$((m_rss / 1024))" "${m_times[*]}"
python3 -c "print(f'ratio meshdoctor / kubectl: {$m_med / $k_med:.2f}x wall, {$m_rss / $k_rss:.2f}x peak RSS (target <= 1.2x wall)')"
