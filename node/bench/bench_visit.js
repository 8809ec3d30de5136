// Per-visit cost from Node against the same visit in Rust.
//
// The visit: the 10-state object of bindings/c/bench/plan.json (ten Tasks; from bytes:
// decode + verify, ten handler calls, eleven records, encode; unsigned; fixed clock)
// with a JS handler returning {ok: true}. Method: 200 warm-up visits, then 15 rounds of
// 2,000 (median round), visits awaited one after another. The engine part includes the
// crossings between JS and the addon (a next/answer pair per handler call).
//
// The handler-call cost (JS side: parsing the input, the handler, serialising the output)
// is measured separately by calling the wrapped handler ten times, and
// subtracted to give the engine part, compared with target/release/examples/bench_visit.
// Target: the engine part within 2x of Rust.
//
//   node node/bench/bench_visit.js
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const peo = require('..')

const root = path.resolve(__dirname, '../..')
const planPath = path.join(root, 'bindings/c/bench/plan.json')
const plan = JSON.parse(fs.readFileSync(planPath, 'utf8'))
const T0 = 1_700_000_000_000
const ROUNDS = 15
const PER_ROUND = 2000
const WARMUP = 200

async function medianUs(run) {
  for (let i = 0; i < WARMUP; i++) await run()
  const rounds = []
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < PER_ROUND; i++) await run()
    rounds.push(Number(process.hrtime.bigint() - start) / 1e3 / PER_ROUND)
  }
  rounds.sort((a, b) => a - b)
  return rounds[Math.floor(ROUNDS / 2)]
}

async function main() {
  const data = peo.Object.create(plan, { input: { order: 7, items: ['a', 'b'] }, nowMs: T0 }).toBytes()
  const step = () => ({ ok: true })
  const node = new peo.Node({ id: 'bench', domain: 'local', nowMs: T0, trust: 'any' }).handle('bench.step', step)
  const total = await medianUs(() => node.visit(data))

  // The JS side of ten handler calls, through the function the node calls them with
  // (parsing the input, the handler, serialising the output).
  const { runHandler, TaskContext } = require('../peo.js')._internals
  const key = `${'0'.repeat(32)}/S0/0`
  const inputJson = JSON.stringify({ order: 7, items: ['a', 'b'], last: { ok: true } })
  const handlers = await medianUs(async () => {
    for (let i = 0; i < 10; i++) runHandler(step, new TaskContext('bench.step', 'S0', key, 0, null), inputJson)
  })
  const engine = total - handlers
  console.log(`node: 10-state visit ${total.toFixed(1)} us; handler calls ${handlers.toFixed(1)} us (10 x ${(handlers / 10).toFixed(2)} us); engine part ${engine.toFixed(1)} us`)
  const rust = path.join(root, 'target/release/examples/bench_visit')
  if (fs.existsSync(rust)) {
    const out = execFileSync(rust, [planPath], { encoding: 'utf8' })
    const rustUs = Number(/visit ([0-9.]+) us/.exec(out)[1])
    console.log(out.trim())
    console.log(`engine part from Node: ${(engine / rustUs).toFixed(2)}x Rust (target: within 2x); whole visit with JS handlers: ${(total / rustUs).toFixed(2)}x`)
  } else {
    console.log('(cargo build --release -p peo-c --example bench_visit for the Rust comparison)')
  }
}

main()
