#!/usr/bin/env bash
# CI step: every face reports the same version and wire format version: `peo --version`,
# the installed wheel, the installed npm package and the C/C++ SDK's peo_version()
# (after 04-build.sh, 08-python.sh and 09-node.sh).
# Runs alone (scripts/ci/12-versions.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "versions: peo --version, peo.__version__, require('peo').version and peo_version() agree"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf dist/peo-*-x86_64-linux-gnu.tar.gz -C "$work"
sdk=$(echo "$work"/peo-*)
cc -std=c11 bindings/c/sdk-test/version.c -I"$sdk/include" -L"$sdk/lib" -lpeo -Wl,-rpath,"$sdk/lib" -o "$work/version"
cli=$("$bin/peo" --version)
python=$("$venv/bin/python" -c 'import peo; print(f"peo {peo.__version__} (wire format {peo.WIRE_FORMAT_VERSION})")')
node=$(cd "$app" && node -e 'const p = require("peo"); console.log(`peo ${p.version} (wire format ${p.wireFormatVersion})`)')
c=$("$work/version" | awk '{print "peo " $1 " (wire format " $2 ")"}')
printf '  %-8s %s\n' peo "$cli" Python "$python" Node "$node" C "$c"
[ "$cli" = "$python" ] && [ "$cli" = "$node" ] && [ "$cli" = "$c" ] \
  || { echo "error: the faces report different versions" >&2; exit 1; }
echo "versions: all four agree: $cli"
