#!/usr/bin/env bash
# Scale benchmark: `meshdoctor check -A --from` on synthetic clusters of several shapes and
# sizes, as JSON and as YAML (written as `kubectl get -o yaml` writes it), beside `jq empty`
# (jq's parse alone) on the same JSON.
#
#   scripts/bench-scale.sh                          # every shape, 10k and 50k, JSON and YAML, 3 runs
#   RUNS=1 SHAPES="mixed many-ns" FORMATS=json scripts/bench-scale.sh
#   SIZES="10000 50000 150000" scripts/bench-scale.sh   # Kubernetes' own limit (~2.6 GB per JSON file)
#   SCALE_DIR=/var/tmp/scale scripts/bench-scale.sh      # where the generated files go
#   KEEP=0 scripts/bench-scale.sh                   # delete each shape's files after measuring it
#
# Shapes (flags of examples/gen_cluster.rs; every pod count gets the same shape):
#   mixed        one namespace per 166 pods, Istio (default, canary, prod tag) and Linkerd
#   many-ns      one namespace per 25 pods (2,000 namespaces at 50k)
#   few-ns       6 namespaces, thousands of pods each
#   many-deploy  one Deployment and ReplicaSet per pod
#   revisions    10 Istio revisions (default, canary and 8 more) and the prod tag
#   skinny       pods with only what meshdoctor reads
#   istio        Istio only
#   linkerd      Linkerd only
#
# Prints one Markdown table (median wall time of RUNS runs, highest peak RSS) and checks the
# targets of docs/scale.md, one line each:
#   JSON check <= 0.5x `jq empty` on the same file (every shape and size);
#   10k -> 50k <= 5.5x, 50k -> 150k <= 3.3x (every shape and format);
#   JSON peak RSS < 1.5x the input (kubectl-shaped pods: every shape but skinny);
#   150,000 kubectl-shaped pods as JSON in under 10 s;
#   YAML <= 2x the JSON check of the same cluster, peak RSS < 2x the YAML input (50k and up).
# Exit 1 when a target is missed. A benchmark, not a test: CI does not run it.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SIZES=${SIZES:-"10000 50000"}
FORMATS=${FORMATS:-"json yaml"}
SHAPES=${SHAPES:-"mixed many-ns few-ns many-deploy revisions skinny istio linkerd"}
SCALE_DIR=${SCALE_DIR:-${TMPDIR:-/tmp}/meshdoctor-scale}
KEEP=${KEEP:-1}
mkdir -p "$SCALE_DIR"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need jq || ! [ -x /usr/bin/time ]; then
    echo "bench-scale: installing jq and GNU time" >&2
    apt-get install -y -qq jq time >/dev/null
fi

cargo build --release --quiet --bin meshdoctor --example gen_cluster
MD=target/release/meshdoctor
GEN=target/release/examples/gen_cluster

# gen_flags SHAPE PODS -> the generator's flags for that shape
gen_flags() {
    local shape=$1 pods=$2
    local per166=$(( pods / 166 > 6 ? pods / 166 : 6 ))
    case $shape in
        mixed) echo "--namespaces $per166" ;;
        many-ns) echo "--namespaces $(( pods / 25 > 1 ? pods / 25 : 1 ))" ;;
        few-ns) echo "--namespaces 6" ;;
        many-deploy) echo "--namespaces $per166 --pods-per-deployment 1" ;;
        revisions) echo "--namespaces $per166 --revisions 8" ;;
        skinny) echo "--namespaces $per166 --pod-shape skinny" ;;
        istio) echo "--namespaces $per166 --mesh istio" ;;
        linkerd) echo "--namespaces $per166 --mesh linkerd" ;;
        *) echo "bench-scale: unknown shape $shape" >&2; exit 2 ;;
    esac
}

# measure CMD... -> prints "seconds kib" (median wall of $RUNS runs, max RSS of those runs)
measure() {
    local walls=() rss=0 out stats="$SCALE_DIR/time.out"
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -o "$stats" -f "%e %M" "$@" >/dev/null 2>&1 || true
        out=$(tail -1 "$stats")
        walls+=("${out% *}")
        local r=${out#* }
        [ "$r" -gt "$rss" ] && rss=$r
    done
    local median
    median=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$median $rss"
}

mib() { awk -v b="$1" 'BEGIN {printf "%.0f", b/1048576}'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "meshdoctor $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(jq --version), $RUNS runs each (median wall, max RSS)"
echo "command: meshdoctor check -A --from FILE -o json --fail-on never; jq empty FILE"
echo
echo "| shape | pods | format | input | meshdoctor wall | meshdoctor RSS | RSS / input | jq empty wall | meshdoctor / jq | YAML / JSON |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"

declare -A WALL RSS SIZE JQ
for shape in $SHAPES; do
    for pods in $SIZES; do
        flags=$(gen_flags "$shape" "$pods")
        for format in $FORMATS; do
            file="$SCALE_DIR/$shape-$pods.$format"
            if ! [ -s "$file" ]; then
                # shellcheck disable=SC2086
                "$GEN" $flags --pods "$pods" --format "$format" >"$file"
                # A file just written is still being written back: the first read of a
                # multi-GB one was measured up to 2x slower. Measure warm.
                sync
                "$MD" check -A --from "$file" -o json --fail-on never >/dev/null 2>&1 || true
            fi
            bytes=$(stat -c %s "$file")
            read -r wall rss < <(measure "$MD" check -A --from "$file" -o json --fail-on never)
            key="$shape-$pods-$format"
            WALL[$key]=$wall; RSS[$key]=$rss; SIZE[$key]=$bytes
            jq_cols="| – | – | –"
            if [ "$format" = json ]; then
                read -r jwall _ < <(measure jq empty "$file")
                JQ[$shape-$pods]=$jwall
                jq_cols=$(awk -v w="$wall" -v jw="$jwall" 'BEGIN {printf "| %.2f s | %.2f× | –", jw, w/jw}')
            elif [ -n "${WALL[$shape-$pods-json]:-}" ]; then
                jq_cols=$(awk -v w="$wall" -v j="${WALL[$shape-$pods-json]}" 'BEGIN {printf "| – | – | %.2f×", w/j}')
            fi
            printf '| %s | %s | %s | %s MiB | %.2f s | %s MiB | %s× %s |\n' "$shape" "$pods" "$format" \
                "$(mib "$bytes")" "$wall" "$(mib $(( rss * 1024 )))" \
                "$(awk -v r="$rss" -v b="$bytes" 'BEGIN {printf "%.2f", r*1024/b}')" "$jq_cols"
        done
    done
    if [ "$KEEP" = 0 ]; then
        rm -f "$SCALE_DIR/$shape-"*
    fi
done

echo
status=0
check() { # check DESCRIPTION AWK-CONDITION
    if awk "BEGIN {exit !($2)}"; then echo "ok:     $1"; else echo "missed: $1"; status=1; fi
}
sizes=$(echo "$SIZES" | tr ' ' '\n' | sort -n)
for shape in $SHAPES; do
    prev=""
    for pods in $sizes; do
        for format in $FORMATS; do
            key="$shape-$pods-$format"
            [ -n "${WALL[$key]:-}" ] || continue
            w=${WALL[$key]} r=${RSS[$key]} b=${SIZE[$key]}
            if [ "$format" = json ]; then
                check "$shape $pods json: ${w} s <= 0.5x jq empty (${JQ[$shape-$pods]} s)" \
                    "$w <= 0.5 * ${JQ[$shape-$pods]}"
                if [ "$shape" != skinny ] && [ "$pods" -ge 150000 ]; then
                    check "$shape $pods json: ${w} s < 10 s" "$w < 10"
                fi
                if [ "$shape" != skinny ]; then
                    check "$shape $pods json: peak RSS $(mib $(( r * 1024 ))) MiB < 1.5x input ($(mib "$b") MiB)" \
                        "$r * 1024 < 1.5 * $b"
                fi
            elif [ "$pods" -ge 50000 ]; then
                if [ -n "${WALL[$shape-$pods-json]:-}" ]; then
                    check "$shape $pods yaml: ${w} s <= 2x json (${WALL[$shape-$pods-json]} s)" \
                        "$w <= 2 * ${WALL[$shape-$pods-json]}"
                fi
                check "$shape $pods yaml: peak RSS $(mib $(( r * 1024 ))) MiB < 2x input ($(mib "$b") MiB)" \
                    "$r * 1024 < 2 * $b"
            fi
            if [ -n "$prev" ] && [ -n "${WALL[$shape-$prev-$format]:-}" ]; then
                p=${WALL[$shape-$prev-$format]}
                limit=$(awk -v a="$prev" -v b="$pods" 'BEGIN {f = b / a; printf "%.1f", f * 1.1}')
                check "$shape $format: $prev -> $pods pods ${p} s -> ${w} s <= ${limit}x" \
                    "$w <= $limit * $p"
            fi
        done
        prev=$pods
    done
done
exit $status
