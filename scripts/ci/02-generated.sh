#!/usr/bin/env bash
# CI step: generated code is up to date.
# Runs alone (scripts/ci/02-generated.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "generated code is up to date"
scripts/gen-flatbuffers.sh --check
scripts/gen-header.sh --check
# schema/forms.schema.json is checked by core/tests/forms.rs in 05-rust-tests.sh
# (scripts/gen-schema.sh regenerates it).
