// What one handler call costs on the JS side, piece by piece, and what a one-Task visit
// costs whole (docs/performance.md, "Per transition from Python and Node"). Each figure
// is the best of five loops.
//
//   node node/bench/bench_call.js
'use strict'
const path = require('node:path')
const peo = require('..')
const native = require(path.join(path.dirname(require.resolve('..')), 'index.js'))
const { runHandler, TaskContext } = require(path.join(path.dirname(require.resolve('..')), 'peo.js'))._internals

const T0 = 1_700_000_000_000
const LOOPS = 5

/** The best of five loops of `n` calls of `f(i)`, in ns a call. */
function best(n, f) {
  let min = Infinity
  for (let r = 0; r < LOOPS; r++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) f(i)
    min = Math.min(min, Number(process.hrtime.bigint() - start) / n)
  }
  return min.toFixed(0)
}

async function main() {
  const N = 1_000_000
  const inputs = Array.from({ length: 1024 }, (_, i) => `{"i":${i}}`)
  const step = (v) => ({ i: v.i + 1 })
  const key = `${'0'.repeat(32)}/S0001/1/0`
  let sink = 0
  console.log(`JSON.parse of {"i":n}: ${best(N, (i) => (sink += JSON.parse(inputs[i & 1023]).i))} ns`)
  console.log(`JSON.stringify of {i: n}: ${best(N, (i) => (sink += JSON.stringify({ i }).length))} ns`)
  console.log(`a TaskContext: ${best(N, (i) => (sink += new TaskContext('step', 'S0001', key, i, null).attempt))} ns`)
  console.log(
    `the handler through runHandler (parse, handler, stringify): ${best(N, (i) => {
      const outcome = runHandler(step, new TaskContext('step', 'S0001', key, 0, null), inputs[i & 1023])
      sink += outcome[1].length
    })} ns`,
  )
  console.log(`a no-op N-API call: ${best(N, () => (sink += native.visitsInProgress()))} ns`)

  // A one-Task visit from bytes, whole: begin, one handler call, the end, the Visit.
  const plan = { StartAt: 'S0', States: { S0: { Type: 'Task', Resource: 'step', End: true } } }
  const data = peo.Object.create(plan, { input: { i: 0 }, nowMs: T0 }).toBytes()
  const node = new peo.Node({ id: 'bench', domain: 'local', nowMs: T0, trust: 'any' }).handle('step', step)
  const VISITS = 20_000
  let min = Infinity
  for (let r = 0; r < LOOPS; r++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < VISITS; i++) sink += (await node.visit(data)).appended
    min = Math.min(min, Number(process.hrtime.bigint() - start) / 1e3 / VISITS)
  }
  console.log(`a one-Task visit: ${min.toFixed(2)} us`)
  if (sink === 0) throw new Error('nothing was measured')
}

main()
