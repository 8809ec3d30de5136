#!/usr/bin/env bash
# CI step: the ASL corpus and the shared test vectors (after 04-build.sh).
# Runs alone (scripts/ci/10-conformance.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "ASL conformance against the AWS-recorded corpus (floor: tests/conformance/asl.floor)"
# The corpus is the project's shared judge (../shared/conformance/asl); a byte-identical
# copy is kept in tests/conformance/asl-corpus so a clone runs it anywhere.
corpus=tests/conformance/asl-corpus
if [ -d ../shared/conformance/asl ]; then
  diff -r ../shared/conformance/asl "$corpus" >/dev/null \
    || { echo "tests/conformance/asl-corpus differs from ../shared/conformance/asl: copy it again"; exit 1; }
fi
"$bin/peo-conformance" asl "$corpus" --floor tests/conformance/asl.floor

step "test vectors are up to date and replay"
"$bin/peo-conformance" vectors tests/vectors --check
"$bin/peo-conformance" vectors tests/vectors --replay
