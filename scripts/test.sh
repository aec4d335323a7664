#!/usr/bin/env bash
# Runs flexidp's whole test suite: unit tests, both store backends on real
# databases (a throwaway PostgreSQL cluster is started by the tests), and
# end-to-end sign-ins checked by independent SAML implementations.
#
# On a fresh Debian/Ubuntu machine it installs what the tests need when it
# can (root or sudo): postgresql, xmlsec1, python3-onelogin-saml2, chromium.
# Extra arguments go to `go test` (e.g. ./scripts/test.sh -run SignIn ./cmd/...).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null || missing+=(postgresql)
command -v xmlsec1 >/dev/null || missing+=(xmlsec1)
/usr/bin/python3 -c 'import onelogin.saml2' 2>/dev/null || missing+=(python3-onelogin-saml2)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)

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

if (($#)); then
  exec go test -race -count=1 "$@"
fi
exec go test -race -count=1 ./...
