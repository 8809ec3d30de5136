#!/usr/bin/env bash
# CI step: the C suite against the built library (after 04-build.sh).
# Runs alone (scripts/ci/07-c.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "C suite: vectors, API, C++ and the example against include/peo.h, under valgrind"
PEO_PREBUILT=1 bindings/c/tests/run.sh
