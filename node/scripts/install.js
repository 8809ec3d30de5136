#!/usr/bin/env node
// The package's install script. Installed from the npm tarballs (scripts/dist), the
// prebuilt addon comes in the platform package (`peo-linux-x64-gnu`, an optional
// dependency) and there is nothing to do. Installed from a source checkout
// (`npm install /path/to/peo/node`), or on a platform with no prebuilt package, it builds
// the addon from source: `cargo build --release --locked -p peo-node` in the repository
// this folder belongs to, copied to the file name index.js loads (peo.<platform>.node).
// Needs only Rust and Node: no dev dependencies.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
    const glibc = report?.header?.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function libraryName() {
  if (process.platform === 'win32') return 'peo_node.dll'
  if (process.platform === 'darwin') return 'libpeo_node.dylib'
  return 'libpeo_node.so'
}

const here = path.resolve(__dirname, '..')
const target = path.join(here, `peo.${platformSuffix()}.node`)
if (fs.existsSync(target) && !process.env.PEO_REBUILD) {
  console.log(`peo: using ${path.basename(target)}`)
  process.exit(0)
}
const prebuilt = `peo-${platformSuffix()}`
if (!process.env.PEO_REBUILD) {
  try {
    console.log(`peo: using the prebuilt addon of ${path.dirname(require.resolve(`${prebuilt}/package.json`, { paths: [here] }))}`)
    process.exit(0)
  } catch {
    // not installed: build from source below
  }
}
const root = path.resolve(here, '..')
if (!fs.existsSync(path.join(root, 'Cargo.toml'))) {
  console.error(
    `peo: no prebuilt addon for ${platformSuffix()} (no package ${prebuilt}) and no Rust workspace at ${root} to build one.\n` +
      'Build from source: clone the peo repository, install Rust (https://rustup.rs), then `npm install /path/to/peo/node`.',
  )
  process.exit(1)
}
// Built for the host triple explicitly, as `napi build` does, so the two share one
// target folder (target/<triple>/release) and compile the dependencies once.
const host = /^host: (.+)$/m.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
console.log(`peo: building the native addon (cargo build --release --locked -p peo-node --target ${host} in ${root})`)
execFileSync('cargo', ['build', '--release', '--locked', '-p', 'peo-node', '--target', host], { cwd: root, stdio: 'inherit' })
const metadata = JSON.parse(
  execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps', '--locked'], { cwd: root, encoding: 'utf8' }),
)
const built = path.join(metadata.target_directory, host, 'release', libraryName())
fs.copyFileSync(built, target)
console.log(`peo: built ${path.basename(target)}`)
