#!/usr/bin/env bash
# A real kube-apiserver on loopback for meshdoctor's end-to-end tests.
#
# Debian ships no kube-apiserver binary, but its `kubernetes` source package is the full
# Kubernetes 1.20.2 tree. `build` compiles cmd/kube-apiserver from it with Debian's Go and caches
# the binary; `start` runs it with Debian's etcd on 127.0.0.1, with throwaway certificates, static
# tokens and a kubeconfig; `stop` ends both by process id. See docs/testing.md.
set -euo pipefail

readonly KUBE_VERSION=1.20.2
SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/${BASH_SOURCE[0]##*/}
readonly SELF
readonly CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/meshdoctor/kube-apiserver-$KUBE_VERSION
readonly APISERVER_BIN=$CACHE_DIR/kube-apiserver
readonly DEFAULT_RUN_DIR=${MESHDOCTOR_E2E_DIR:-${TMPDIR:-/tmp}/meshdoctor-apiserver}
# Seconds to wait for /readyz, and for a process to exit after TERM before it gets KILL.
readonly START_TIMEOUT=${MESHDOCTOR_E2E_START_TIMEOUT:-90}
readonly STOP_TIMEOUT=${MESHDOCTOR_E2E_STOP_TIMEOUT:-15}
# Go 1.19 and the vendored reflect2 1.0.1 crash json-iterator's map encoder (SIGSEGV as soon as
# a webhook patch is recorded in the audit annotations); Debian's packaged versions are fixed.
readonly VENDOR_SWAPS=(github.com/modern-go/reflect2 github.com/json-iterator/go)
readonly BUILD_PACKAGES=(golang-go make dpkg-dev rsync jq
  golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev)
readonly RUN_PACKAGES=(etcd-server openssl curl)

usage() {
  cat <<EOF
usage: ${SELF##*/} [-h] COMMAND [DIR] [OPTIONS]

A real kube-apiserver $KUBE_VERSION (built from Debian's source package) and etcd on 127.0.0.1,
for meshdoctor's end-to-end tests.

commands:
  build         install the build tools with apt-get, build kube-apiserver from Debian's
                \`kubernetes\` source package and cache it as
                $APISERVER_BIN
                (does nothing when the cached binary works)
  binary        print the cached binary's path; exit 1 when it is not built
  start [DIR]   start etcd and kube-apiserver with state, logs and certificates in DIR,
                wait for /readyz, write DIR/kubeconfig and DIR/env, print the kubeconfig path
  stop [DIR]    stop both by process id (TERM, then KILL after ${STOP_TIMEOUT}s); logs stay
  status [DIR]  show both processes and /readyz; exit 0 only when the server is ready

DIR defaults to \$MESHDOCTOR_E2E_DIR or ${DEFAULT_RUN_DIR}.

options:
  --owner-pid PID   (start) stop the servers and purge etcd's data when process PID exits
  --purge           (stop) also delete etcd's data directory
  -h, --help        show this help

environment:
  XDG_CACHE_HOME                 where the binary is cached (default ~/.cache)
  MESHDOCTOR_BUILD_CPUS          CPUs the build may use (default: all, at low priority)
  MESHDOCTOR_E2E_START_TIMEOUT   seconds to wait for /readyz (default 90)
  MESHDOCTOR_E2E_STOP_TIMEOUT    seconds between TERM and KILL (default 15)
EOF
}

say() { printf 'test-apiserver: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}
usage_error() {
  say "error: $* (see -h)"
  exit 2
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# ---------------------------------------------------------------------------------------------
# build

apt_updated=false
apt_update_once() {
  if [[ $apt_updated == false ]]; then
    say "apt-get update"
    as_root apt-get update -qq
    apt_updated=true
  fi
}

# Installs the named packages that are not installed yet.
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} > 0)); then
    apt_update_once
    say "apt-get install ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# `apt-get source` needs a deb-src entry; the image configures only binary sources. Adds one
# with the same URIs and suites beside the configured Debian source, once.
ensure_deb_src() {
  local sources=/etc/apt/sources.list.d/debian.sources
  local ours=/etc/apt/sources.list.d/meshdoctor-deb-src.sources
  if grep -Eqs '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources ||
    grep -Eqs '^deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list; then
    return
  fi
  if [[ -f $sources ]]; then
    say "adding a deb-src entry: $ours"
    sed 's/^Types: deb$/Types: deb-src/' "$sources" | as_root tee "$ours" >/dev/null
  elif grep -Eqs '^deb[[:space:]]' /etc/apt/sources.list; then
    say "adding a deb-src entry: ${ours%.sources}.list"
    sed -n 's/^deb[[:space:]]/deb-src /p' /etc/apt/sources.list |
      as_root tee "${ours%.sources}.list" >/dev/null
  else
    die "no Debian apt source found to derive a deb-src entry from"
  fi
  # The new entry needs a fresh index even if an update already ran.
  apt_updated=false
}

# True when the cached binary runs and is the expected version.
binary_works() {
  [[ -x $APISERVER_BIN ]] && "$APISERVER_BIN" --version 2>/dev/null | grep -qx "Kubernetes v$KUBE_VERSION"
}

cmd_build() {
  if binary_works; then
    say "reusing $APISERVER_BIN ($("$APISERVER_BIN" --version))"
    return
  fi
  local started=$SECONDS
  ensure_deb_src
  apt_update_once
  ensure_packages "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}"

  local work=$CACHE_DIR/build
  rm -rf "$work"
  mkdir -p "$work/home"
  say "fetching Debian's kubernetes source package into $work"
  if ! (cd "$work" && apt-get source -qq kubernetes >"$work/apt-get-source.log" 2>&1); then
    cat "$work/apt-get-source.log" >&2
    die "apt-get source kubernetes failed"
  fi
  local src
  src=$(find "$work" -maxdepth 1 -type d -name "kubernetes-*$KUBE_VERSION" | sed -n 1p)
  [[ -n $src && -d $src/cmd/kube-apiserver ]] ||
    die "apt-get source kubernetes gave no kubernetes-*$KUBE_VERSION tree in $work"

  local lib from
  for lib in "${VENDOR_SWAPS[@]}"; do
    from=/usr/share/gocode/src/$lib
    [[ -d $from ]] || die "$from is missing (its golang-*-dev package is not installed)"
    say "vendor swap: $lib <- $from"
    rm -rf "${src:?}/vendor/$lib"
    mkdir -p "$src/vendor/$lib"
    cp -r "$from/." "$src/vendor/$lib/"
    find "$src/vendor/$lib" -name '*_test.go' -delete
  done

  # The tree builds in GOPATH mode as k8s.io/kubernetes, the way debian/rules does it.
  mkdir -p "$src/.go/src/k8s.io"
  ln -sfn ../../.. "$src/.go/src/k8s.io/kubernetes"
  local cpus=${MESHDOCTOR_BUILD_CPUS:-$(nproc)}
  say "building cmd/kube-apiserver with $cpus CPUs at low priority (about 5 minutes on 2 cores)"
  (cd "$src" && env GOPATH="$src/.go" GOCACHE="$work/go-build" HOME="$work/home" \
    CGO_ENABLED=0 GOMAXPROCS="$cpus" nice -n 10 make WHAT=cmd/kube-apiserver >&2)

  install -m 0755 "$src/_output/bin/kube-apiserver" "$APISERVER_BIN.tmp"
  mv -f "$APISERVER_BIN.tmp" "$APISERVER_BIN"
  binary_works || die "the built $APISERVER_BIN does not report Kubernetes v$KUBE_VERSION"
  # The source tree and Go cache stay (about 2 GB): deleting their ~100k files took two minutes
  # on a CI machine, more than a rebuild saves; delete $work freely.
  say "built $APISERVER_BIN in $((SECONDS - started))s"
}

cmd_binary() {
  binary_works || die "kube-apiserver is not built; run: ${SELF} build"
  printf '%s\n' "$APISERVER_BIN"
}

# ---------------------------------------------------------------------------------------------
# processes

# True when PID is a live (not zombie) process whose command line contains NAME. The name check
# keeps a recycled pid from being mistaken for (or killed as) one of ours; the zombie check
# matters because an exited child may never be reaped when PID 1 is not a real init.
pid_alive() {
  local pid=$1 name=$2 state cmdline
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  state=$(awk '{print $3}' 2>/dev/null <"/proc/$pid/stat") || return 1
  [[ -n $state && $state != Z && $state != X ]] || return 1
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmdline == *"$name"* ]]
}

read_pid() {
  local file=$1
  [[ -f $file ]] && tr -dc '0-9' <"$file"
}

# Stops the process recorded in FILE (if it is still NAME): TERM, then KILL after the timeout.
stop_pidfile() {
  local file=$1 name=$2 pid waited
  pid=$(read_pid "$file") || true
  if [[ -z $pid ]] || ! pid_alive "$pid" "$name"; then
    rm -f "$file"
    return
  fi
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((waited = 0; waited < STOP_TIMEOUT * 5; waited++)); do
    pid_alive "$pid" "$name" || break
    sleep 0.2
  done
  if pid_alive "$pid" "$name"; then
    say "$name (pid $pid) ignored TERM for ${STOP_TIMEOUT}s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((waited = 0; waited < 25; waited++)); do
      pid_alive "$pid" "$name" || break
      sleep 0.2
    done
    pid_alive "$pid" "$name" && die "$name (pid $pid) survived KILL"
  fi
  rm -f "$file"
}

# Prints a loopback TCP port nobody listens on, avoiding the ports given as arguments. Ports
# come from 20000-32767, below Linux's ephemeral range (32768-60999): a port there can be the
# local end of some outgoing connection, which a connect probe does not see but bind refuses
# ("address already in use"), as happened to etcd once in the e2e tier.
free_port() {
  local port taken try
  for ((try = 0; try < 100; try++)); do
    port=$((20000 + RANDOM % 12768))
    for taken in "$@"; do
      [[ $port == "$taken" ]] && continue 2
    done
    if ! (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s\n' "$port"
      return
    fi
  done
  die "found no free loopback port"
}

# Resolves DIR to an absolute path, creating it. Paths with spaces or quotes are refused because
# DIR/env is meant to be sourced and read line by line without a shell-quoting parser.
run_dir() {
  local dir=${1:-$DEFAULT_RUN_DIR}
  [[ $dir =~ ^[A-Za-z0-9._/+@:-]+$ ]] || die "DIR may only contain letters, digits and ._/+@:- ($dir)"
  mkdir -p "$dir"
  (cd "$dir" && pwd -P)
}

# ---------------------------------------------------------------------------------------------
# start

# A CA, a serving certificate for 127.0.0.1/localhost signed by it, and the service-account
# signing key pair. Fresh for every start: nothing here outlives the run.
make_pki() {
  local pki=$1
  rm -rf "$pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
      -keyout ca.key -out ca.crt -subj '/CN=meshdoctor-e2e-ca' \
      -addext 'basicConstraints=critical,CA:TRUE' \
      -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 \
      -keyout apiserver.key -out apiserver.csr -subj '/CN=kube-apiserver' 2>/dev/null
    cat >apiserver.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1
EOF
    openssl x509 -req -sha256 -days 30 -in apiserver.csr -CA ca.crt -CAkey ca.key \
      -CAcreateserial -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 0600 ./*.key
  )
}

write_kubeconfig() {
  local file=$1 server=$2 ca=$3 admin_token=$4 nobody_token=$5
  # Written beside, then renamed: a reader never sees half a file.
  cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: meshdoctor-e2e
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 <"$ca")
users:
- name: meshdoctor-e2e-admin
  user:
    token: $admin_token
- name: meshdoctor-e2e-nobody
  user:
    token: $nobody_token
contexts:
- name: meshdoctor-e2e
  context:
    cluster: meshdoctor-e2e
    user: meshdoctor-e2e-admin
    namespace: default
- name: meshdoctor-e2e-nobody
  context:
    cluster: meshdoctor-e2e
    user: meshdoctor-e2e-nobody
    namespace: default
current-context: meshdoctor-e2e
EOF
  chmod 0600 "$file.tmp"
  mv -f "$file.tmp" "$file"
}

# Prints the last lines of a log for a failed start, then stops whatever was started.
fail_start() {
  local dir=$1 log=$2 message=$3
  say "error: $message"
  if [[ -f $log ]]; then
    say "last lines of $log:"
    tail -n 30 "$log" >&2
  fi
  stop_all "$dir" false
  exit 1
}

# Asks /readyz as the admin: until the RBAC bootstrap roles exist, anonymous users get 403.
# With `verbose`, prints the per-check report even when the answer is an error.
readyz() {
  local dir=$1 server=$2 verbose=${3:-}
  local args=(-sS --max-time 3 --cacert "$dir/pki/ca.crt"
    -H "Authorization: Bearer $(admin_token "$dir")")
  if [[ $verbose == verbose ]]; then
    curl "${args[@]}" "$server/readyz?verbose"
  else
    curl -f "${args[@]}" "$server/readyz" >/dev/null 2>&1
  fi
}

admin_token() {
  sed -n '1s/,.*//p' "$1/tokens.csv" 2>/dev/null
}

cmd_start() {
  local dir=$1 owner_pid=$2
  local started=$SECONDS
  binary_works || die "kube-apiserver is not built; run: ${SELF} build"
  command -v etcd >/dev/null || die "etcd is not installed (apt package etcd-server); run: ${SELF} build"
  command -v openssl >/dev/null || die "openssl is not installed; run: ${SELF} build"
  command -v curl >/dev/null || die "curl is not installed; run: ${SELF} build"
  if [[ -n $owner_pid ]] && ! kill -0 "$owner_pid" 2>/dev/null; then
    die "--owner-pid $owner_pid is not a running process"
  fi

  if cmd_status "$dir" >/dev/null 2>&1; then
    say "already running in $dir"
    printf '%s\n' "$dir/kubeconfig"
    return
  fi
  stop_all "$dir" true

  make_pki "$dir/pki"
  local admin_token nobody_token
  admin_token=$(openssl rand -hex 24)
  nobody_token=$(openssl rand -hex 24)
  # system:masters bypasses RBAC; the second user has no bindings at all, for forbidden paths.
  umask 077
  printf '%s,meshdoctor-admin,meshdoctor-admin,"system:masters"\n%s,meshdoctor-nobody,meshdoctor-nobody\n' \
    "$admin_token" "$nobody_token" >"$dir/tokens.csv"
  umask 022

  local etcd_port peer_port api_port
  etcd_port=$(free_port)
  peer_port=$(free_port "$etcd_port")
  api_port=$(free_port "$etcd_port" "$peer_port")
  local etcd_url=http://127.0.0.1:$etcd_port server=https://127.0.0.1:$api_port

  say "starting etcd on $etcd_url"
  # setsid: the servers must not share the caller's process group or terminal, so they outlive
  # this script and no Ctrl-C meant for a test runner reaches them half-way.
  setsid etcd --name meshdoctor-e2e --data-dir "$dir/etcd-data" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "meshdoctor-e2e=http://127.0.0.1:$peer_port" \
    </dev/null >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  disown
  local waited
  for ((waited = 0; ; waited++)); do
    pid_alive "$(read_pid "$dir/etcd.pid")" etcd || fail_start "$dir" "$dir/etcd.log" "etcd exited"
    curl -fsS --max-time 2 "$etcd_url/health" >/dev/null 2>&1 && break
    ((waited < 150)) || fail_start "$dir" "$dir/etcd.log" "etcd not healthy after 30s"
    sleep 0.2
  done

  say "starting kube-apiserver on $server"
  setsid "$APISERVER_BIN" \
    --etcd-servers="$etcd_url" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$api_port" --insecure-port=0 \
    --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" \
    --token-auth-file="$dir/tokens.csv" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$dir/pki/sa.pub" \
    --service-account-signing-key-file="$dir/pki/sa.key" \
    --api-audiences=https://kubernetes.default.svc \
    --service-cluster-ip-range=10.96.0.0/24 \
    --allow-privileged=true \
    --enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook \
    --disable-admission-plugins=ServiceAccount \
    --endpoint-reconciler-type=none \
    --profiling=false \
    </dev/null >"$dir/apiserver.log" 2>&1 &
  # ServiceAccount admission is off because no controller-manager creates the `default`
  # ServiceAccount; with it on, every pod create would be refused. With no controllers and no
  # scheduler, pods stay Pending and deleted namespaces stay Terminating.
  echo $! >"$dir/apiserver.pid"
  disown

  for ((waited = 0; ; waited++)); do
    pid_alive "$(read_pid "$dir/apiserver.pid")" kube-apiserver ||
      fail_start "$dir" "$dir/apiserver.log" "kube-apiserver exited"
    readyz "$dir" "$server" && break
    if ((waited >= START_TIMEOUT * 2)); then
      say "/readyz?verbose says:"
      readyz "$dir" "$server" verbose >&2 || true
      fail_start "$dir" "$dir/apiserver.log" "kube-apiserver not ready after ${START_TIMEOUT}s"
    fi
    sleep 0.5
  done

  write_kubeconfig "$dir/kubeconfig" "$server" "$dir/pki/ca.crt" "$admin_token" "$nobody_token"
  cat >"$dir/env.tmp" <<EOF
KUBECONFIG=$dir/kubeconfig
MESHDOCTOR_E2E_KUBECONFIG=$dir/kubeconfig
MESHDOCTOR_E2E_DIR=$dir
MESHDOCTOR_E2E_SERVER=$server
MESHDOCTOR_E2E_CA_FILE=$dir/pki/ca.crt
MESHDOCTOR_E2E_KUBERNETES_VERSION=$KUBE_VERSION
MESHDOCTOR_E2E_ETCD_PID=$(read_pid "$dir/etcd.pid")
MESHDOCTOR_E2E_APISERVER_PID=$(read_pid "$dir/apiserver.pid")
EOF
  mv -f "$dir/env.tmp" "$dir/env"

  if [[ -n $owner_pid ]]; then
    # Stops the servers when the owner (a test binary) exits, however it exits. The single
    # quotes are deliberate: the inner shell expands its own positional parameters.
    # shellcheck disable=SC2016
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3" --purge' \
      watchdog "$owner_pid" "$SELF" "$dir" </dev/null >>"$dir/watchdog.log" 2>&1 &
    echo $! >"$dir/watchdog.pid"
    disown
  fi
  say "ready in $((SECONDS - started))s: $server"
  printf '%s\n' "$dir/kubeconfig"
}

# ---------------------------------------------------------------------------------------------
# stop and status

stop_all() {
  local dir=$1 quiet=$2 pid
  # When the watchdog itself runs `stop`, its pid is ours: do not kill ourselves.
  pid=$(read_pid "$dir/watchdog.pid") || true
  if [[ -n $pid && $pid != "$$" ]] && pid_alive "$pid" watchdog; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/watchdog.pid"
  if [[ $quiet == true ]]; then
    stop_pidfile "$dir/apiserver.pid" kube-apiserver 2>/dev/null
    stop_pidfile "$dir/etcd.pid" etcd 2>/dev/null
  else
    stop_pidfile "$dir/apiserver.pid" kube-apiserver
    stop_pidfile "$dir/etcd.pid" etcd
  fi
}

cmd_stop() {
  local dir=$1 purge=$2
  stop_all "$dir" false
  if [[ $purge == true ]]; then
    rm -rf "${dir:?}/etcd-data"
  fi
  say "stopped; logs are in $dir"
}

cmd_status() {
  local dir=$1 ok=0 pid server
  pid=$(read_pid "$dir/etcd.pid") || true
  if [[ -n $pid ]] && pid_alive "$pid" etcd; then
    echo "etcd: running (pid $pid)"
  else
    echo "etcd: not running"
    ok=1
  fi
  pid=$(read_pid "$dir/apiserver.pid") || true
  if [[ -n $pid ]] && pid_alive "$pid" kube-apiserver; then
    server=$(sed -n 's/^MESHDOCTOR_E2E_SERVER=//p' "$dir/env" 2>/dev/null || true)
    if [[ -n $server ]] && readyz "$dir" "$server"; then
      echo "kube-apiserver: ready (pid $pid, $server, kubeconfig $dir/kubeconfig)"
    else
      echo "kube-apiserver: running but not ready (pid $pid)"
      ok=1
    fi
  else
    echo "kube-apiserver: not running"
    ok=1
  fi
  return "$ok"
}

# ---------------------------------------------------------------------------------------------

main() {
  local command="" dir="" owner_pid="" purge=false
  while (($# > 0)); do
    case $1 in
    -h | --help)
      usage
      return
      ;;
    --owner-pid)
      (($# >= 2)) || usage_error "--owner-pid needs a process id"
      [[ $2 =~ ^[0-9]+$ ]] || usage_error "--owner-pid needs a process id, not '$2'"
      owner_pid=$2
      shift
      ;;
    --purge) purge=true ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      if [[ -z $command ]]; then
        command=$1
      elif [[ -z $dir ]]; then
        dir=$1
      else
        usage_error "unexpected argument '$1'"
      fi
      ;;
    esac
    shift
  done

  case $command in
  build) cmd_build ;;
  binary) cmd_binary ;;
  start) cmd_start "$(run_dir "$dir")" "$owner_pid" ;;
  stop) cmd_stop "$(run_dir "$dir")" "$purge" ;;
  status) cmd_status "$(run_dir "$dir")" ;;
  "")
    usage >&2
    exit 2
    ;;
  *) usage_error "unknown command '$command'" ;;
  esac
}

main "$@"
