// Per-transition cost from Node against the same visit in Rust (issue 18's target: at
// most 2 us a transition from Node).
//
// The visit: a chain of 1,000 Tasks whose handler returns {i: i + 1}, from bytes (decode
// + verify, 1,000 handler calls, 1,001 records, encode), unsigned, a fixed clock. 5
// warm-up visits, then 25 measured; the median visit divided by 1,000. The Rust
// reference, target/release/examples/bench_chain (`cargo build --release -p peo-c
// --example bench_chain`), runs the same visit with a Rust handler in the same run.
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

async function main() {
  const data = peo.Object.create(plan(N), { input: { i: 0 }, nowMs: T0 }).toBytes()
  const node = new peo.Node({ id: 'bench', domain: 'local', nowMs: T0, trust: 'any' }).handle('step', (v) => ({
    i: v.i + 1,
  }))
  const runs = []
  for (let r = 0; r < 30; r++) {
    const start = process.hrtime.bigint()
    const visit = await node.visit(data)
    const us = Number(process.hrtime.bigint() - start) / 1e3 / N
    if (visit.object.data.i !== N) throw new Error(`the chain ended at ${JSON.stringify(visit.object.data)}`)
    if (r >= 5) runs.push(us)
  }
  runs.sort((a, b) => a - b)
  console.log(`node: 1,000-Task chain ${runs[12].toFixed(2)} us per transition (median of 25; min ${runs[0].toFixed(2)})`)
  const rust = path.join(root, 'target/release/examples/bench_chain')
  if (fs.existsSync(rust)) console.log(execFileSync(rust, { encoding: 'utf8' }).trim())
  else console.log('(cargo build --release -p peo-c --example bench_chain for the Rust figure)')
}

main()
