# Sourced by every step of scripts/ci: the repository root, nats-server on PATH, the
# release binaries' folder, and a banner.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export PATH="$PATH:/usr/sbin"   # Debian installs nats-server there
root=$PWD
bin=target/release
venv=target/py-venv          # made by 08-python.sh, used by 16-distributed.sh
app=$root/target/node-app    # made by 09-node.sh, used by 16-distributed.sh
step() { printf '\n=== %s\n' "$*"; }
