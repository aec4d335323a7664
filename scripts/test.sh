#!/usr/bin/env bash
# Runs flexidp's whole test suite: unit tests, both store backends on real
# databases (a throwaway PostgreSQL cluster is started by the tests), and
# end-to-end sign-ins checked by independent SAML implementations.
#
# On a fresh Debian/Ubuntu machine it installs what the tests need when it
# can (root or sudo): postgresql, xmlsec1, python3-onelogin-saml2, chromium,
# slapd and ldap-utils (the directory sign-in tests start a real OpenLDAP);
# and axe-core (npm) for the accessibility scans of the browser tests.
# Extra arguments go to `go test` (e.g. ./scripts/test.sh -run SignIn ./cmd/...);
# without them the deployment files are checked too (deploy/kubernetes/validate,
# and kubeconform when it is installed).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null || missing+=(postgresql)
command -v xmlsec1 >/dev/null || missing+=(xmlsec1)
/usr/bin/python3 -c 'import onelogin.saml2' 2>/dev/null || missing+=(python3-onelogin-saml2)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || missing+=(slapd ldap-utils)

if ((${#missing[@]})); then
  if command -v apt-get >/dev/null; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing test dependencies: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: missing ${missing[*]}; the tests that need them are skipped (they fail under CI=true)" >&2
  fi
fi

# axe-core (npm), for the accessibility scans of the browser tests: pinned,
# installed once into a cache outside the repository.
axe_version=4.14.1
axe_dir="${XDG_CACHE_HOME:-$HOME/.cache}/flexidp-axe"
if [ -z "${FLEXIDP_AXE:-}" ]; then
  export FLEXIDP_AXE="$axe_dir/node_modules/axe-core/axe.min.js"
  if [ ! -f "$FLEXIDP_AXE" ] || ! grep -q "axe v$axe_version" "$FLEXIDP_AXE"; then
    if command -v npm >/dev/null; then
      echo "installing axe-core@$axe_version into $axe_dir" >&2
      npm install --no-save --no-audit --no-fund --prefix "$axe_dir" "axe-core@$axe_version" >/dev/null ||
        echo "warning: could not install axe-core; the accessibility scans are skipped (they fail under CI=true)" >&2
    else
      echo "warning: npm is missing; the accessibility scans are skipped (they fail under CI=true)" >&2
    fi
  fi
fi

# scimmy (npm), an independent SCIM 2.0 implementation that drives and
# checks a provisioning cycle (internal/scim TestSCIMMYProvisioningCycle):
# pinned, installed once into a cache outside the repository.
scimmy_version=1.3.5
scimmy_dir="${XDG_CACHE_HOME:-$HOME/.cache}/flexidp-scimmy"
if [ -z "${FLEXIDP_SCIMMY:-}" ]; then
  export FLEXIDP_SCIMMY="$scimmy_dir/node_modules"
  if ! grep -q "\"version\": \"$scimmy_version\"" "$FLEXIDP_SCIMMY/scimmy/package.json" 2>/dev/null; then
    if command -v npm >/dev/null; then
      echo "installing scimmy@$scimmy_version into $scimmy_dir" >&2
      npm install --no-save --no-audit --no-fund --prefix "$scimmy_dir" "scimmy@$scimmy_version" >/dev/null ||
        echo "warning: could not install scimmy; the SCIMMY provisioning cycle is skipped (it fails under CI=true)" >&2
    else
      echo "warning: npm is missing; the SCIMMY provisioning cycle is skipped (it fails under CI=true)" >&2
    fi
  fi
fi

if (($#)); then
  exec go test -race -count=1 -timeout 30m "$@"
fi

status=0
go test -race -count=1 -timeout 30m ./... || status=$?

# The deployment files (Dockerfile, docker-compose.yml, deploy/kubernetes):
# decoded strictly into the Kubernetes API types and checked offline, in a
# module of their own so k8s.io/* stays out of flexidp's dependencies.
(cd deploy/kubernetes/validate && go test -count=1 ./...) || status=$?

# kubeconform, when installed, also checks the manifests against the
# published JSON schemas. It downloads them unless KUBECONFORM_SCHEMA_LOCATION
# points at a local copy; an unreachable schema host only warns, since the
# check above already ran offline.
if command -v kubeconform >/dev/null; then
  kc=(kubeconform -strict -summary -ignore-missing-schemas -skip Kustomization)
  if [ -n "${KUBECONFORM_SCHEMA_LOCATION:-}" ]; then
    kc+=(-schema-location "$KUBECONFORM_SCHEMA_LOCATION")
  fi
  if ! out=$("${kc[@]}" deploy/kubernetes/*.yaml 2>&1); then
    if ! grep -v -e 'failed downloading schema' -e '^Summary:' <<<"$out" | grep -q .; then
      echo "warning: kubeconform could not download its schemas (offline?); set KUBECONFORM_SCHEMA_LOCATION to a local copy" >&2
    else
      echo "$out" >&2
      status=1
    fi
  else
    echo "$out"
  fi
fi
exit "$status"
