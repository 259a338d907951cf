#!/usr/bin/env bash
# Installs the system packages Beilei needs on a Debian machine, only those missing:
# a JDK (Kafka), Maven (fetches the Kafka jars), PostgreSQL server, kcat (tests read topics with a
# client we did not write), promtool and npm for the deployment tests, ssh-agent for the ledger witnesses, chromium and CJK fonts
# for the portal's browser tests, gcc and Python's headers for the ledger's compiled checks. Needs root for apt-get; otherwise says what to install.
set -euo pipefail
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v kcat >/dev/null || missing+=(kcat)
command -v promtool >/dev/null || missing+=(prometheus)   # promtool tests the alert rules
command -v npm >/dev/null || missing+=(npm)               # operator CRD schemas for the deploy tests
command -v ssh-agent >/dev/null || missing+=(openssh-client)  # each local ledger witness keeps its key in an agent
command -v chromium >/dev/null || missing+=(chromium)     # the portal's browser tests (Playwright drives Debian's build)
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)  # Chinese text in the browser
command -v gcc >/dev/null || missing+=(gcc)               # the full audit's compiled checks (services/audit/ledger/_speedups.c)
[ -e "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] || missing+=(python3-dev)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: please install: ${missing[*]} (Debian package names)" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
