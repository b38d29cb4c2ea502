#!/usr/bin/env bash
# `meshdoctor serve` benchmark on the real kube-apiserver (scripts/test-apiserver.sh) holding a
# synthetic cluster (examples/gen_cluster; default 5,000 pods in 200 namespaces):
#
#   - initial sync: serve's start to /readyz 200, against `meshdoctor check -A -o json` on the
#     same server (median of 3; target <= 1.2x);
#   - one change: a namespace label, then a pod annotation, to the next evaluation that saw it
#     (meshdoctor_evaluations_total moves; target < 2 s);
#   - steady state: serve's CPU over 30 s with no change (target < 2 % of one core);
#   - memory: serve's peak RSS against `check -A`'s (target: serve <= check).
#
#   scripts/bench-serve.sh [NAMESPACES] [PODS]
#
# Needs kubectl on PATH (scripts/install-tools.sh) and a built kube-apiserver
# (scripts/test-apiserver.sh build). Every pod is created before the webhook configurations,
# so the API server never calls a webhook: no request leaves the loopback interface.
set -euo pipefail

namespaces=${1:-200}
pods=${2:-5000}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v kubectl >/dev/null || { echo "bench-serve: kubectl is not on PATH (scripts/install-tools.sh)" >&2; exit 2; }
cargo build --release --quiet --bin meshdoctor --example gen_cluster

work=$(mktemp -d)
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
  scripts/test-apiserver.sh stop "$work/apiserver" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

kubeconfig=$(scripts/test-apiserver.sh start "$work/apiserver" | tail -n1)
export KUBECONFIG="$kubeconfig"

echo "bench-serve: generating $pods pods in $namespaces namespaces" >&2
target/release/examples/gen_cluster --namespaces "$namespaces" --pods "$pods" --format json >"$work/cluster.json"
# Creatable objects, pods before the webhooks: server-set metadata and status dropped.
python3 - "$work/cluster.json" "$work" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
items = json.load(open(src))["items"]
order = {"Namespace": 0, "MutatingWebhookConfiguration": 9}
for o in items:
    m = o.get("metadata", {})
    for k in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink", "generation"):
        m.pop(k, None)
    o.pop("status", None)
    # Workload templates mount the token volume that admission adds to pods; the API server
    # refuses a template that mounts a volume it does not declare.
    tpl = o.get("spec", {}).get("template", {}).get("spec")
    if tpl:
        for c in tpl.get("containers", []):
            c["volumeMounts"] = [v for v in c.get("volumeMounts", []) if v["name"] != "kube-api-access"]
first = [o for o in items if order.get(o["kind"], 5) == 0]
middle = [o for o in items if order.get(o["kind"], 5) == 5]
last = [o for o in items if order.get(o["kind"], 5) == 9]
for name, part in (("1-namespaces", first), ("2-objects", middle), ("3-webhooks", last)):
    json.dump({"apiVersion": "v1", "kind": "List", "items": part}, open(f"{out}/{name}.json", "w"))
PY
t0=$(date +%s)
for part in 1-namespaces 2-objects 3-webhooks; do
  kubectl create -f "$work/$part.json" >/dev/null 2>"$work/create-$part.log" || {
    grep -v "AlreadyExists" "$work/create-$part.log" | head -5 >&2 || true
  }
done
echo "bench-serve: cluster loaded in $(( $(date +%s) - t0 )) s ($(kubectl get pods -A --no-headers | wc -l) pods)" >&2

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

check_ms=()
check_rss=0
for _ in 1 2 3; do
  t0=$(now_ms)
  /usr/bin/time -f %M -o "$work/check.rss" target/release/meshdoctor check -A -o json >/dev/null || true
  check_ms+=($(( $(now_ms) - t0 )))
  check_rss=$(tail -n1 "$work/check.rss")
done
check_median=$(printf '%s\n' "${check_ms[@]}" | median)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr="127.0.0.1:$port"
t0=$(now_ms)
target/release/meshdoctor serve --metrics-addr "$addr" 2>"$work/serve.log" &
serve_pid=$!
until curl -sf "http://$addr/readyz" >/dev/null 2>&1; do
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.05
done
sync_ms=$(( $(now_ms) - t0 ))

evaluations() {
  curl -s "http://$addr/metrics" | awk '/^meshdoctor_evaluations_total/ {s += $2} END {print s + 0}'
}
# One change, then the time until an evaluation after it has been published.
reflect_ms() {
  local before t0
  before=$(evaluations)
  t0=$(now_ms)
  "$@" >/dev/null
  until [ "$(evaluations)" -gt "$before" ]; do sleep 0.02; done
  echo $(( $(now_ms) - t0 ))
}
ns=$(kubectl get ns -o name | grep app- | sed -n 1p | cut -d/ -f2)
pod=$(kubectl get pods -n "$ns" -o name | sed -n 1p)
label_ms=$(reflect_ms kubectl label namespace "$ns" bench.meshdoctor/changed=1 --overwrite)
annotate_ms=$(reflect_ms kubectl annotate -n "$ns" "$pod" sidecar.istio.io/inject=false --overwrite)

ticks() { awk '{print $14 + $15}' "/proc/$serve_pid/stat"; }
hz=$(getconf CLK_TCK)
c0=$(ticks)
sleep 30
c1=$(ticks)
idle_cpu=$(python3 -c "print(f'{100 * ($c1 - $c0) / $hz / 30:.2f}')")
serve_rss=$(awk '/VmHWM/ {print $2}' "/proc/$serve_pid/status")

ratio=$(python3 -c "print(f'{$sync_ms / $check_median:.2f}')")
cat <<EOF
serve benchmark: $pods pods, $namespaces namespaces, real kube-apiserver (load average $(cut -d' ' -f1 /proc/loadavg))
  check -A -o json (median of 3)   ${check_median} ms   peak RSS ${check_rss} KB
  serve: start to /readyz 200      ${sync_ms} ms   (${ratio}x check -A; target <= 1.2x)
  namespace label reflected        ${label_ms} ms   (target < 2000 ms)
  pod annotation reflected         ${annotate_ms} ms
  idle CPU over 30 s               ${idle_cpu} % of one core (target < 2 %)
  serve peak RSS                   ${serve_rss} KB (target <= check's ${check_rss} KB)
EOF
