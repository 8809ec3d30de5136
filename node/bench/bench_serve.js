// A Node node serving a JetStream mesh with a window of deliveries in flight against one
// at a time (issue 19), in the same run.
//
// Each of 200 one-Task objects is visited by an async handler that waits 10 ms (a timer,
// as a handler awaiting a service does). The node serves with window 1, then 16, on a
// fresh `nats-server -js` on loopback each time; the figure is objects finished per
// second, from the first submission to the last finished object.
//
//   node node/bench/bench_serve.js
'use strict'
const os = require('node:os')
const peo = require('..')
const { startNats } = require('../test/nats.js')

const N = 200
const WAIT = 10
const PLAN = { StartAt: 'Call', States: { Call: { Type: 'Task', Resource: 'call', End: true } } }

async function run(window) {
  const nats = await startNats()
  try {
    const node = new peo.Node({ id: 'js-bench', domain: 'eu', trust: 'any' })
    node.handle('call', async (x) => {
      await new Promise((r) => setTimeout(r, WAIT))
      return { i: x.i, ok: true }
    })
    const mesh = await peo.JetStream.connect(nats.url)
    const ac = new AbortController()
    const serving = node.serve(nats.url, { signal: ac.signal, window })
    const started = performance.now()
    const ids = []
    for (let i = 0; i < N; i++) ids.push(await mesh.submit(peo.Object.create(PLAN, { input: { i } })))
    const done = await mesh.wait(ids, { timeout: 120000 })
    const took = (performance.now() - started) / 1000
    ac.abort()
    await serving
    if (Object.keys(done).length !== N || !Object.values(done).every((o) => o.status === 'succeeded')) {
      throw new Error('not every object finished')
    }
    return N / took
  } finally {
    nats.stop()
  }
}

async function main() {
  const one = await run(1)
  const sixteen = await run(16)
  console.log(
    `node serve: ${one.toFixed(0)} objects/s with 1 in flight, ${sixteen.toFixed(0)} with 16 ` +
      `(${N} objects, a handler waiting ${WAIT} ms, ${os.cpus().length} cores)`,
  )
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
