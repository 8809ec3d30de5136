#!/usr/bin/env bash
# CI step: the C suite against the built library, and the C/C++ SDK from dist/ as a user
# gets it (after 04-build.sh).
# Runs alone (scripts/ci/07-c.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "C suite: vectors, API, C++ and the example against include/peo.h, under valgrind"
PEO_PREBUILT=1 bindings/c/tests/run.sh

step "C/C++ SDK: the tarball from dist/, CMake and pkg-config consumers, C and C++, shared and static, under valgrind"
bindings/c/sdk-test/run.sh dist/peo-*-x86_64-linux-gnu.tar.gz
