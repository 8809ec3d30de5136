// Per-transition cost from Node against the same visit in Rust (issue 18's target: at
// most 2 us a transition from Node).
//
// The visit: a chain of 1,000 Tasks whose handler returns {i: i + 1}, from bytes (decode
// + verify, 1,000 handler calls, 1,001 records, encode), unsigned, a fixed clock. 5
// warm-up visits, then 25 measured; the median visit divided by 1,000. The Rust
// reference, target/release/examples/bench_chain (`cargo build --release -p peo-c
// --example bench_chain`), runs the same visit with a Rust handler in the same run.
//
// For scale, when `aws-local-stepfunctions` (an in-memory ASL interpreter that keeps no
// history) is installed, the same chain with it, measured the same way:
// `(cd node && npm install --no-save aws-local-stepfunctions@3.0.0)`.
//
//   node node/bench/bench_chain.js
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const peo = require('..')

const root = path.resolve(__dirname, '../..')
const T0 = 1_700_000_000_000
const N = 1000

function plan(n) {
  const states = {}
  for (let i = 0; i < n; i++) {
    const state = { Type: 'Task', Resource: 'step' }
    if (i + 1 === n) state.End = true
    else state.Next = `S${String(i + 1).padStart(4, '0')}`
    states[`S${String(i).padStart(4, '0')}`] = state
  }
  return { StartAt: 'S0000', States: states }
}

/** `run` 30 times: the median and best of the last 25, in us a transition. */
async function perTransition(run) {
  const runs = []
  for (let r = 0; r < 30; r++) {
    const start = process.hrtime.bigint()
    const i = await run()
    const us = Number(process.hrtime.bigint() - start) / 1e3 / N
    if (i !== N) throw new Error(`the chain ended at ${i}`)
    if (r >= 5) runs.push(us)
  }
  runs.sort((a, b) => a - b)
  return `${runs[12].toFixed(2)} us per transition (median of 25; min ${runs[0].toFixed(2)})`
}

/** The chain in aws-local-stepfunctions, when it is installed: its figure, or null. */
async function interpreter() {
  let StateMachine
  try {
    ;({ StateMachine } = require('aws-local-stepfunctions'))
  } catch {
    return null
  }
  // Its version 3 calls Promise.withResolvers, which Node.js has from version 22.
  Promise.withResolvers ??= function withResolvers() {
    let resolve, reject
    const promise = new Promise((a, b) => {
      resolve = a
      reject = b
    })
    return { promise, resolve, reject }
  }
  const definition = plan(N)
  const handlers = {}
  for (const [name, state] of Object.entries(definition.States)) {
    state.Resource = 'arn:aws:lambda:us-east-1:123456789012:function:step'
    handlers[name] = (v) => ({ i: v.i + 1 })
  }
  const machine = new StateMachine(definition)
  const overrides = { taskResourceLocalHandlers: handlers }
  return perTransition(async () => (await machine.run({ i: 0 }, { overrides }).result).i)
}

async function main() {
  const data = peo.Object.create(plan(N), { input: { i: 0 }, nowMs: T0 }).toBytes()
  const node = new peo.Node({ id: 'bench', domain: 'local', nowMs: T0, trust: 'any' }).handle('step', (v) => ({
    i: v.i + 1,
  }))
  console.log(`node: 1,000-Task chain ${await perTransition(async () => (await node.visit(data)).object.data.i)}`)
  const rust = path.join(root, 'target/release/examples/bench_chain')
  if (fs.existsSync(rust)) console.log(execFileSync(rust, { encoding: 'utf8' }).trim())
  else console.log('(cargo build --release -p peo-c --example bench_chain for the Rust figure)')
  const other = await interpreter()
  if (other) console.log(`aws-local-stepfunctions (no history): ${other}`)
}

main()
