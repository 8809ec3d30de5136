#!/usr/bin/env bash
# Installs nats-server (with JetStream) from Debian's archive when it is missing: the
# JetStream tests, the distributed example and the load benchmark start it on loopback.
set -euo pipefail
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  echo "installing nats-server (apt-get)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >/dev/null
fi
# Debian installs it in /usr/sbin, which is not on every user's PATH.
command -v nats-server >/dev/null || echo "note: nats-server is /usr/sbin/nats-server (add /usr/sbin to PATH)" >&2
