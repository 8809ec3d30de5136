#!/usr/bin/env bash
# CI step: a short run of each fuzz target (PEO_FUZZ_SECONDS, default 20; 0 skips).
# Runs alone (scripts/ci/13-fuzz.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

fuzz_secs="${PEO_FUZZ_SECONDS:-20}"
if [ "$fuzz_secs" != "0" ]; then
  step "fuzz from_bytes + verify + the cycle for ${fuzz_secs}s, then plans and Cedar policies for half that each"
  scripts/fuzz.sh "$fuzz_secs"
fi
