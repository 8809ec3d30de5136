#!/usr/bin/env node
// `npm install` of this folder: builds the native addon from source when no binary for
// this platform sits beside index.js. Runs `cargo build --release --locked -p peo-node`
// in the repository this folder belongs to and copies the library to the file name
// index.js loads (peo.<platform>.node). Needs only Rust and Node: no dev dependencies,
// so it works from `npm install /path/to/node` in any folder.
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
const root = path.resolve(here, '..')
if (!fs.existsSync(path.join(root, 'Cargo.toml'))) {
  console.error(`peo: no prebuilt addon for ${platformSuffix()} and no Rust workspace at ${root} to build one`)
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
