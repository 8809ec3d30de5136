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
nats_current=$root/target/nats-current/bin   # nats-server 2.15.1, by scripts/deps-nats.sh
# The workspace's release build and its tests compile under clippy, as `cargo clippy`
# runs it (clippy-driver for the workspace's own crates, warnings denied): the lints cost
# no separate pass over Cedar and the other dependencies. Every step that runs cargo on
# the workspace uses this, so no step rebuilds what another built.
linted() { RUSTC_WORKSPACE_WRAPPER=clippy-driver RUSTFLAGS="${RUSTFLAGS:-} -D warnings" "$@"; }
step() { printf '\n=== %s\n' "$*"; }
# Runs a command with no `cargo` or `rustc` on PATH: the artifacts from dist/ must install
# and run without a Rust toolchain, as on a user's machine.
without_rust() {
  local dirs=() d
  IFS=: read -ra dirs <<< "$PATH"
  local kept=()
  for d in "${dirs[@]}"; do [ -x "$d/cargo" ] || [ -x "$d/rustc" ] || kept+=("$d"); done
  PATH="$(IFS=:; echo "${kept[*]}")" "$@"
}
# Seconds since $1 (from `date +%s%N`), one decimal.
since() { local d=$((($(date +%s%N) - $1) / 100000000)); printf '%d.%d s' $((d / 10)) $((d % 10)); }
