#!/usr/bin/env bash
# Regenerates the test certificates of the injection-machinery fixtures and the state.yaml files
# that embed them:
#
#   fixtures/check-certs/pem/*.{crt,key}   every certificate and its (test-only) private key
#   fixtures/check-certs/state.yaml        good chain, wrong CA, wrong SAN, expired, expiring soon,
#                                          empty and double-encoded caBundle
#   fixtures/check-certs-good/state.yaml   a healthy Istio (plugged-in CA) + Linkerd install
#   fixtures/check-webhook-service/state.yaml, fixtures/check-webhook-policy/state.yaml,
#   fixtures/check-networkpolicy/state.yaml  the webhook transport scenarios (valid caBundles)
#
# Validity windows are fixed dates (openssl ca -startdate/-enddate), so the expected findings only
# depend on the `now:` pinned in each expected.yaml (1750000000 = 2025-06-15T15:06:40Z), not on
# when this script ran. Keys are fresh on every run; they are test keys and sign nothing else.
# Needs: bash, openssl (1.1 or 3.x), base64 (coreutils).
set -euo pipefail

cd "$(dirname "$0")/.."
PEM=fixtures/check-certs/pem
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$PEM"

cat >"$WORK/ca.cnf" <<'EOF'
[ca]
default_ca = fixture
[fixture]
database = $ENV::WORK/index.txt
new_certs_dir = $ENV::WORK
serial = $ENV::WORK/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
O = optional
OU = optional
L = optional
CN = optional
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[v3_intermediate]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SANS
[v3_selfsigned_server]
# What Helm's genSelfSignedCert (Linkerd's chart) makes: a self-signed leaf, not a CA.
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = $ENV::SANS
EOF
export WORK SANS=DNS:unused
: >"$WORK/index.txt"
echo 1000 >"$WORK/serial"

# key NAME ec|rsa
key() {
    case $2 in
    ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PEM/$1.key" 2>/dev/null ;;
    rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PEM/$1.key" 2>/dev/null ;;
    esac
}

# issue NAME SUBJECT START END EXTENSIONS ISSUER|self [SANS]
issue() {
    local name=$1 subject=$2 start=$3 end=$4 ext=$5 issuer=$6
    SANS=${7:-DNS:unused}
    openssl req -new -key "$PEM/$name.key" -subj "$subject" -out "$WORK/$name.csr"
    local sign=(-cert "$PEM/$issuer.crt" -keyfile "$PEM/$issuer.key")
    if [ "$issuer" = self ]; then
        sign=(-selfsign -keyfile "$PEM/$name.key")
    fi
    openssl ca -batch -notext -preserveDN -config "$WORK/ca.cnf" "${sign[@]}" \
        -in "$WORK/$name.csr" -out "$PEM/$name.crt" \
        -startdate "$start" -enddate "$end" -extensions "$ext" 2>/dev/null
}

# Istio's self-signed root (istiod names it O=cluster.local), and a stale root with the same
# name and another key, as a reinstall leaves behind.
key istio-root ec
issue istio-root "/O=cluster.local" 20250101000000Z 20350101000000Z v3_ca self
key istio-stale-root ec
issue istio-stale-root "/O=cluster.local" 20240101000000Z 20340101000000Z v3_ca self
# istiod serving certificate (cert-manager style, Secret istiod-tls): names stable and canary but
# not blue, and expires 2025-07-05, inside the 30-day window at the pinned time.
key istiod-expiring ec
issue istiod-expiring "/CN=istiod" 20250601000000Z 20250705000000Z v3_server istio-root \
    "DNS:istiod.istio-system.svc,DNS:istiod-stable.istio-system.svc,DNS:istiod-canary.istio-system.svc"
# Linkerd's chart: a self-signed RSA certificate valid 365 days; this one ran out 2025-01-01.
key linkerd-expired rsa
issue linkerd-expired "/CN=linkerd-proxy-injector.linkerd.svc" 20240101000000Z 20250101000000Z \
    v3_selfsigned_server self "DNS:linkerd-proxy-injector.linkerd.svc"

# A healthy install: Istio with a plugged-in CA (root → intermediate), istiod-tls issued by the
# intermediate; Linkerd's self-signed injector certificate, valid until 2026.
key plugged-root ec
issue plugged-root "/O=Istio/CN=Root CA" 20250101000000Z 20350101000000Z v3_ca self
key plugged-intermediate ec
issue plugged-intermediate "/O=Istio/L=cluster1/CN=Intermediate CA" 20250101000000Z 20270101000000Z \
    v3_intermediate plugged-root
key istiod-good ec
issue istiod-good "/CN=istiod" 20250601000000Z 20250901000000Z v3_server plugged-intermediate \
    "DNS:istiod.istio-system.svc"
key linkerd-good rsa
issue linkerd-good "/CN=linkerd-proxy-injector.linkerd.svc" 20250301000000Z 20260301000000Z \
    v3_selfsigned_server self "DNS:linkerd-proxy-injector.linkerd.svc"

b64() { base64 -w0 "$@"; }
# indent N FILE: the file's lines indented by N spaces (YAML block scalars).
indent() { sed "s/^/$(printf '%*s' "$1" '')/" "$2"; }

HEADER="# Generated by scripts/gen-fixture-certs.sh; edit the script, not this file."

# istio_mwc NAME REVISION SERVICE CABUNDLE_B64|"" [FAILURE_POLICY_NS] [FAILURE_POLICY_OBJ] [TIMEOUT_NS] [TIMEOUT_OBJ]
# An Istio revision's webhooks as the istiod chart renders them (rev.namespace + rev.object).
istio_mwc() {
    local name=$1 rev=$2 svc=$3 ca=$4 fp_ns=${5:-Fail} fp_obj=${6:-Fail} t_ns=${7:-} t_obj=${8:-}
    local ca_line="" t_ns_line="" t_obj_line=""
    [ -n "$ca" ] && ca_line="    caBundle: $ca"
    [ -n "$t_ns" ] && t_ns_line="  timeoutSeconds: $t_ns"
    [ -n "$t_obj" ] && t_obj_line="  timeoutSeconds: $t_obj"
    cat <<EOF
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: $name
  labels:
    istio.io/rev: $rev
    app: sidecar-injector
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  clientConfig:
    service: {name: $svc, namespace: istio-system, path: /inject, port: 443}
$ca_line
  rules:
  - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}
  namespaceSelector:
    matchExpressions:
    - {key: istio.io/rev, operator: In, values: [$rev]}
    - {key: istio-injection, operator: DoesNotExist}
  objectSelector:
    matchExpressions:
    - {key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: $fp_ns
$t_ns_line
- name: rev.object.sidecar-injector.istio.io
  clientConfig:
    service: {name: $svc, namespace: istio-system, path: /inject, port: 443}
$ca_line
  rules:
  - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}
  namespaceSelector:
    matchExpressions:
    - {key: istio.io/rev, operator: DoesNotExist}
    - {key: istio-injection, operator: DoesNotExist}
  objectSelector:
    matchExpressions:
    - {key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}
    - {key: istio.io/rev, operator: In, values: [$rev]}
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: $fp_obj
$t_obj_line
EOF
}

# istio_default_mwc CABUNDLE_B64: the default revision's four webhooks (istio-injection=enabled too).
istio_default_mwc() {
    local ca=$1
    cat <<EOF
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-sidecar-injector
  labels: {istio.io/rev: default, app: sidecar-injector}
webhooks:
EOF
    local wh ns obj
    for wh in rev.namespace rev.object namespace object; do
        case $wh in
        rev.namespace)
            ns='[{key: istio.io/rev, operator: In, values: [default]}, {key: istio-injection, operator: DoesNotExist}]'
            obj='[{key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}]' ;;
        rev.object)
            ns='[{key: istio.io/rev, operator: DoesNotExist}, {key: istio-injection, operator: DoesNotExist}]'
            obj='[{key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}, {key: istio.io/rev, operator: In, values: [default]}]' ;;
        namespace)
            ns='[{key: istio-injection, operator: In, values: [enabled]}]'
            obj='[{key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}]' ;;
        object)
            ns='[{key: istio-injection, operator: DoesNotExist}, {key: istio.io/rev, operator: DoesNotExist}]'
            obj='[{key: sidecar.istio.io/inject, operator: In, values: ["true"]}, {key: istio.io/rev, operator: DoesNotExist}]' ;;
        esac
        cat <<EOF
- name: $wh.sidecar-injector.istio.io
  clientConfig:
    service: {name: istiod, namespace: istio-system, path: /inject, port: 443}
    caBundle: $ca
  rules:
  - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}
  namespaceSelector: {matchExpressions: $ns}
  objectSelector: {matchExpressions: $obj}
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: Fail
EOF
    done
}

# linkerd_mwc CABUNDLE_B64 FAILURE_POLICY TIMEOUT
linkerd_mwc() {
    cat <<EOF
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: linkerd-proxy-injector-webhook-config
  labels: {linkerd.io/control-plane-component: proxy-injector, linkerd.io/control-plane-ns: linkerd}
webhooks:
- name: linkerd-proxy-injector.linkerd.io
  namespaceSelector:
    matchExpressions:
    - {key: config.linkerd.io/admission-webhooks, operator: NotIn, values: [disabled]}
    - {key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, cert-manager]}
  objectSelector:
    matchExpressions:
    - {key: linkerd.io/control-plane-component, operator: DoesNotExist}
    - {key: linkerd.io/cni-resource, operator: DoesNotExist}
  clientConfig:
    service: {name: linkerd-proxy-injector, namespace: linkerd, path: /}
    caBundle: $1
  failurePolicy: $2
  admissionReviewVersions: [v1, v1beta1]
  rules:
  - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods, services], scope: Namespaced}
  sideEffects: None
  timeoutSeconds: $3
EOF
}

# linkerd_tls_secret CERT: the chart's Secret (kubernetes.io/tls, tls.crt + tls.key).
linkerd_tls_secret() {
    cat <<EOF
---
apiVersion: v1
kind: Secret
metadata: {name: linkerd-proxy-injector-k8s-tls, namespace: linkerd}
type: kubernetes.io/tls
data:
  tls.crt: $(b64 "$PEM/$1.crt")
  tls.key: $(b64 "$PEM/$1.key")
EOF
}

# service NAME NAMESPACE SELECTOR PORTS (cluster IPs are numbered in order, for stable output)
IPN=10
service() {
    IPN=$((IPN + 1))
    cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: $2}
spec:
  type: ClusterIP
  clusterIP: 10.96.0.$IPN
  selector: $3
  ports: $4
EOF
}
ISTIOD_PORTS='[{name: grpc-xds, port: 15010, targetPort: 15010}, {name: https-dns, port: 15012, targetPort: 15012}, {name: https-webhook, port: 443, targetPort: 15017}, {name: http-monitoring, port: 15014, targetPort: 15014}]'
LINKERD_PORTS='[{name: proxy-injector, port: 443, targetPort: proxy-injector}]'
LINKERD_SELECTOR='{linkerd.io/control-plane-component: proxy-injector}'

# slice SERVICE NAMESPACE PORT_NAME PORT READY... : an EndpointSlice with one endpoint per READY value.
slice() {
    local svc=$1 ns=$2 pname=$3 port=$4
    shift 4
    echo "---"
    echo "apiVersion: discovery.k8s.io/v1"
    echo "kind: EndpointSlice"
    echo "metadata:"
    echo "  name: $svc-x7k2p"
    echo "  namespace: $ns"
    echo "  labels: {kubernetes.io/service-name: $svc}"
    echo "addressType: IPv4"
    echo "ports: [{name: $pname, port: $port, protocol: TCP}]"
    echo "endpoints:"
    local i=10 r
    for r in "$@"; do
        echo "- {addresses: [10.244.1.$i], conditions: {ready: $r}}"
        i=$((i + 1))
    done
}

ISTIO_ROOT_B64=$(b64 "$PEM/istio-root.crt")
LINKERD_GOOD_B64=$(b64 "$PEM/linkerd-good.crt")

# ---------------------------------------------------------------------------------------------
{
    echo "$HEADER"
    echo "# Istio revisions in istio-system sharing one root and one istiod-tls serving certificate:"
    echo "# stable is healthy; canary's caBundle is a stale root of the same name; blue is missing"
    echo "# from istiod-tls's SANs; legacy has no caBundle; old has a caBundle encoded twice. Linkerd's"
    echo "# self-signed injector certificate (also its caBundle) expired on 2025-01-01."
    istio_mwc istio-sidecar-injector-stable stable istiod-stable "$ISTIO_ROOT_B64"
    istio_mwc istio-sidecar-injector-canary canary istiod-canary "$(b64 "$PEM/istio-stale-root.crt")"
    istio_mwc istio-sidecar-injector-blue blue istiod-blue "$ISTIO_ROOT_B64"
    istio_mwc istio-sidecar-injector-legacy legacy istiod-legacy ""
    istio_mwc istio-sidecar-injector-old old istiod-old "$(printf '%s' "$ISTIO_ROOT_B64" | base64 -w0)"
    cat <<EOF
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-ca-root-cert, namespace: istio-system}
data:
  root-cert.pem: |
$(indent 4 "$PEM/istio-root.crt")
---
apiVersion: v1
kind: Secret
metadata: {name: istio-ca-secret, namespace: istio-system}
type: istio.io/ca-root
data:
  ca-cert.pem: $ISTIO_ROOT_B64
  ca-key.pem: $(b64 "$PEM/istio-root.key")
---
apiVersion: v1
kind: Secret
metadata:
  name: istiod-tls
  namespace: istio-system
  annotations: {cert-manager.io/certificate-name: istiod}
type: kubernetes.io/tls
data:
  tls.crt: $(b64 "$PEM/istiod-expiring.crt")
  tls.key: $(b64 "$PEM/istiod-expiring.key")
  ca.crt: $ISTIO_ROOT_B64
EOF
    linkerd_mwc "$(b64 "$PEM/linkerd-expired.crt")" Fail 10
    linkerd_tls_secret linkerd-expired
} >fixtures/check-certs/state.yaml

# ---------------------------------------------------------------------------------------------
mkdir -p fixtures/check-certs-good
{
    echo "$HEADER"
    echo "# A healthy install: Istio's default revision with a plugged-in CA (cacerts: root and"
    echo "# intermediate), istiod-tls issued by the intermediate, the injector reachable and admitted"
    echo "# by the namespace's NetworkPolicies; Linkerd (HA values: failurePolicy Fail) with its chart's"
    echo "# self-signed injector certificate. EndpointSlices only: no Endpoints objects in the input."
    istio_default_mwc "$(b64 "$PEM/plugged-root.crt")"
    cat <<EOF
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-ca-root-cert, namespace: istio-system}
data:
  root-cert.pem: |
$(indent 4 "$PEM/plugged-root.crt")
---
apiVersion: v1
kind: Secret
metadata: {name: cacerts, namespace: istio-system}
type: Opaque
data:
  root-cert.pem: $(b64 "$PEM/plugged-root.crt")
  ca-cert.pem: $(b64 "$PEM/plugged-intermediate.crt")
  ca-key.pem: $(b64 "$PEM/plugged-intermediate.key")
  cert-chain.pem: $(cat "$PEM/plugged-intermediate.crt" "$PEM/plugged-root.crt" | b64)
---
apiVersion: v1
kind: Secret
metadata: {name: istiod-tls, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: $(cat "$PEM/istiod-good.crt" "$PEM/plugged-intermediate.crt" | b64)
  tls.key: $(b64 "$PEM/istiod-good.key")
  ca.crt: $(b64 "$PEM/plugged-root.crt")
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-sidecar-injector, namespace: istio-system}
data:
  config: |
    policy: enabled
    templates:
      sidecar: ""
  values: '{"global":{"tag":"1.24.6"}}'
EOF
    service istiod istio-system '{app: istiod, istio.io/rev: default}' "$ISTIOD_PORTS"
    slice istiod istio-system https-webhook 15017 true true
    cat <<'EOF'
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: istio-system}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-istiod, namespace: istio-system}
spec:
  podSelector: {matchLabels: {app: istiod}}
  ingress:
  - ports: [{protocol: TCP, port: 15017}]
  - from: [{namespaceSelector: {}}]
    ports: [{port: 15010}, {port: 15012}]
EOF
    linkerd_mwc "$LINKERD_GOOD_B64" Fail 10
    linkerd_tls_secret linkerd-good
    service linkerd-proxy-injector linkerd "$LINKERD_SELECTOR" "$LINKERD_PORTS"
    slice linkerd-proxy-injector linkerd proxy-injector 8443 true
    cat <<'EOF'
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: linkerd}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-proxy-injector, namespace: linkerd}
spec:
  podSelector: {matchLabels: {linkerd.io/control-plane-component: proxy-injector}}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: proxy-injector}]
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio-injection: enabled}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
EOF
} >fixtures/check-certs-good/state.yaml

# ---------------------------------------------------------------------------------------------
mkdir -p fixtures/check-webhook-service
{
    echo "$HEADER"
    echo "# Where the API server sends the injection request. stable: Service and a ready"
    echo "# EndpointSlice (no Endpoints object). canary: no Service. blue: a Service without port 443."
    echo "# green: the only endpoint is not ready. Linkerd (chart default failurePolicy Ignore): an"
    echo "# Endpoints object with one not-ready address and no EndpointSlice."
    istio_mwc istio-sidecar-injector-stable stable istiod-stable "$ISTIO_ROOT_B64"
    istio_mwc istio-sidecar-injector-canary canary istiod-canary "$ISTIO_ROOT_B64"
    istio_mwc istio-sidecar-injector-blue blue istiod-blue "$ISTIO_ROOT_B64"
    istio_mwc istio-sidecar-injector-green green istiod-green "$ISTIO_ROOT_B64"
    service istiod-stable istio-system '{app: istiod, istio.io/rev: stable}' "$ISTIOD_PORTS"
    slice istiod-stable istio-system https-webhook 15017 true true
    service istiod-blue istio-system '{app: istiod, istio.io/rev: blue}' \
        '[{name: grpc-xds, port: 15010, targetPort: 15010}, {name: https-dns, port: 15012, targetPort: 15012}]'
    service istiod-green istio-system '{app: istiod, istio.io/rev: green}' "$ISTIOD_PORTS"
    slice istiod-green istio-system https-webhook 15017 false
    linkerd_mwc "$LINKERD_GOOD_B64" Ignore 10
    service linkerd-proxy-injector linkerd "$LINKERD_SELECTOR" "$LINKERD_PORTS"
    cat <<'EOF'
---
apiVersion: v1
kind: Endpoints
metadata: {name: linkerd-proxy-injector, namespace: linkerd}
subsets:
- notReadyAddresses:
  - ip: 10.244.2.31
    targetRef: {kind: Pod, namespace: linkerd, name: linkerd-proxy-injector-6f9c7d8b5-2xkqz}
  ports: [{name: proxy-injector, port: 8443, protocol: TCP}]
EOF
} >fixtures/check-webhook-service/state.yaml

# ---------------------------------------------------------------------------------------------
mkdir -p fixtures/check-webhook-policy
{
    echo "$HEADER"
    echo "# failurePolicy and timeoutSeconds. fast: timeouts 3 s and 2 s, and its object webhook fails"
    echo "# open. stable: the chart's defaults (Fail, 10 s). Linkerd with HA values (Fail, 10 s)."
    istio_mwc istio-sidecar-injector-fast fast istiod-fast "$ISTIO_ROOT_B64" Fail Ignore 3 2
    istio_mwc istio-sidecar-injector-stable stable istiod-stable "$ISTIO_ROOT_B64"
    linkerd_mwc "$LINKERD_GOOD_B64" Fail 10
} >fixtures/check-webhook-policy/state.yaml

# ---------------------------------------------------------------------------------------------
mkdir -p fixtures/check-networkpolicy
{
    echo "$HEADER"
    echo "# istio-system denies all ingress and only admits 15017 from pods (a namespaceSelector), which"
    echo "# the API server is not; linkerd denies all but admits the injector port from anywhere; the"
    echo "# policy in shop does not select any injector."
    istio_default_mwc "$ISTIO_ROOT_B64"
    service istiod istio-system '{app: istiod, istio.io/rev: default}' "$ISTIOD_PORTS"
    slice istiod istio-system https-webhook 15017 true
    cat <<'EOF'
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: istio-system}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-mesh, namespace: istio-system}
spec:
  podSelector: {matchLabels: {app: istiod}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: 15012}, {port: 15017}]
EOF
    linkerd_mwc "$LINKERD_GOOD_B64" Fail 10
    service linkerd-proxy-injector linkerd "$LINKERD_SELECTOR" "$LINKERD_PORTS"
    slice linkerd-proxy-injector linkerd proxy-injector 8443 true
    cat <<'EOF'
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: linkerd}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-webhook, namespace: linkerd}
spec:
  podSelector: {matchLabels: {linkerd.io/control-plane-component: proxy-injector}}
  ingress:
  - ports: [{protocol: TCP, port: 8443}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
EOF
} >fixtures/check-networkpolicy/state.yaml

echo "wrote $PEM and the state.yaml of check-certs, check-certs-good, check-webhook-service, check-webhook-policy, check-networkpolicy"
