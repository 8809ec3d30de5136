#!/usr/bin/env bash
# CI step: the JVM package (bindings/kotlin): its generated bindings, its tests through
# Maven, and the jar used from a Maven project outside the repository (after 04-build.sh).
# Runs alone (scripts/ci/14-kotlin.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "Kotlin: generated bindings up to date, mvn verify (vectors, errors, nodes, Java), the jar from another project"
scripts/gen-kotlin.sh --check
mvn -q -B -f bindings/kotlin/pom.xml install
# As a JVM user does: a project elsewhere that depends on dev.peo:peo from ~/.m2.
app_dir=$(mktemp -d)
cp -r examples/kotlin/. "$app_dir"
(cd "$app_dir" && mvn -q -B compile exec:java)
rm -rf "$app_dir"
