'use strict'
// A \`nats-server -js\` on a free loopback port, for the JetStream tests and
// bench/bench_serve.js: \`startNats()\` resolves to { url, stop() }.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const net = require('node:net')
const { spawn, execFileSync } = require('node:child_process')

function natsServer() {
  for (const p of ['nats-server', '/usr/sbin/nats-server']) {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' })
      return p
    } catch {
      // not at this path: try the next one
    }
  }
  throw new Error('nats-server is not installed (Debian: apt-get install nats-server; scripts/test installs it)')
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function startNats(explicitConfig) {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peo-js-nats-'))
  // PEO_TEST_NATS_CONFIG: a server configuration (TLS, users), run from its folder; the
  // test command sets it, with the NATS_* variables the clients read, for a second run.
  const given = explicitConfig ?? process.env.PEO_TEST_NATS_CONFIG
  const config = given ? path.resolve(given) : null
  const args = [...(config ? ['-c', config] : []), '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir]
  const proc = spawn(natsServer(), args, { stdio: 'ignore', cwd: config ? path.dirname(config) : undefined })
  const deadline = Date.now() + 10000
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.end()
        resolve(true)
      })
      c.on('error', () => resolve(false))
    })
    if (ok) break
    if (Date.now() > deadline) throw new Error('nats-server did not start')
    await new Promise((r) => setTimeout(r, 20))
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    stop() {
      proc.kill('SIGKILL')
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

module.exports = { startNats, freePort }
