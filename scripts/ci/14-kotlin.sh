#!/usr/bin/env bash
# CI step: the JVM package (bindings/kotlin): its generated bindings, its tests through
# Maven, and the jar used from a Maven project outside the repository (after 04-build.sh).
# Runs alone (scripts/ci/14-kotlin.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "Kotlin: generated bindings up to date, mvn verify (vectors, errors, nodes, Java), the jar from another project"
scripts/gen-kotlin.sh --check
# Tested with the glibc 2.17 native library scripts/dist built (target/jvm-native), then
# the release jar (dist/) installed into ~/.m2 as a user installs it.
mvn -q -B -f bindings/kotlin/pom.xml verify -Dpeo.native.dir="$PWD/target/jvm-native"
jar=$(ls "$PWD"/dist/peo-*.jar)
(cd "$(mktemp -d)" && mvn -q -B org.apache.maven.plugins:maven-install-plugin:3.1.4:install-file -Dfile="$jar")
# As a JVM user does: a project elsewhere that depends on dev.peo:peo from ~/.m2.
app_dir=$(mktemp -d)
cp -r examples/kotlin/. "$app_dir"
(cd "$app_dir" && mvn -q -B compile exec:java) | sed 's/\x1b\[0m//g' | tee "$app_dir.out"
# The same version and wire format version as every other face.
kotlin=$(head -1 "$app_dir.out"); cli=$("$bin/peo" --version)
[ "$kotlin" = "$cli" ] || { echo "error: Kotlin reports '$kotlin', peo --version '$cli'" >&2; exit 1; }
echo "versions: Kotlin agrees: $kotlin"
rm -f "$app_dir.out"
rm -rf "$app_dir"
