// Every entry of the cross-language test vectors (tests/vectors/manifest.json) through
// the Node API, with results byte-identical to Rust: handler calls, error, disposition,
// records, status, state, data, variables, head, SHA-256 of the object and of every child, and the
// final object. Fails if an entry was skipped. Node's forms are camelCase: they are compared
// through `peo.canonical`, which gives them back their snake_case keys.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const peo = require(require('./package'))

const VECTORS = path.resolve(__dirname, '../../tests/vectors')
const VISIT_KEYS = new Set(['target', 'complete', 'node', 'now_ms', 'event', 'handler_outcomes', 'expect'])
const NODE_KEYS = new Set(['id', 'domain', 'signing_key', 'policy', 'capabilities', 'trust'])
const EXPECT_KEYS = ['calls', 'error', 'disposition', 'appended', 'records', 'status', 'state', 'data', 'variables', 'head', 'object_sha256', 'children']
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex')

function buildNode(spec, nowMs, outcomes, calls) {
  for (const k of Object.keys(spec)) assert.ok(NODE_KEYS.has(k), `the node has ${k}, which this runner does not handle`)
  const key = spec.signing_key ? peo.SigningKey.fromBytes(Buffer.from(spec.signing_key, 'hex')) : null
  // The node's trust in its JSON form; null: the default, which accepts nothing.
  const node = new peo.Node({ id: spec.id, domain: spec.domain, policy: spec.policy ?? null, key, nowMs, trust: spec.trust })
  const queue = [...outcomes]
  const handler = (input, ctx) => {
    calls.push({
      capability: ctx.capability, state: ctx.state, input, attempt: ctx.attempt,
      idempotency_key: ctx.idempotencyKey, deadline_ms: ctx.deadlineMs,
    })
    const o = queue.shift() ?? { error: 'Vector.NoOutcome' }
    if (o.took_ms !== undefined) node.advanceClock(o.took_ms)
    if ('output' in o) return o.output
    throw new peo.TaskFailed(o.error, o.cause ?? null)
  }
  for (const cap of spec.capabilities) node.handle(cap, handler)
  return node
}

async function runVisit(name, index, v, objects) {
  for (const k of Object.keys(v)) assert.ok(VISIT_KEYS.has(k), `${name} visit ${index}: ${k} is not handled`)
  for (const k of Object.keys(v.expect)) assert.ok(EXPECT_KEYS.includes(k), `${name} visit ${index}: unknown expectation ${k}`)
  const calls = []
  const node = buildNode(v.node, v.now_ms, v.handler_outcomes, calls)
  const target = v.target ?? 'parent'
  let visit
  try {
    visit = v.complete ? await node.complete(objects[target], Array.isArray(v.complete) ? v.complete.map((c) => objects[c]) : objects[v.complete]) : await node.visit(objects[target], { event: v.event })
  } catch (e) {
    assert.ok(e instanceof peo.PeoError, `${name} visit ${index}: ${e}`)
    const error = { kind: e.kind, code: e.code, record: e.record, state: e.state, field: e.field }
    assert.deepStrictEqual({ calls, error, disposition: null, appended: 0 }, v.expect, `${name} visit ${index}`)
    return
  }
  const got = {
    calls,
    error: null,
    // The forms in Node are camelCase; the vectors hold the canonical (snake_case) ones.
    disposition: peo.canonical('Disposition', visit.disposition),
    appended: visit.appended,
    records: peo.canonical('Record', visit.records),
    status: visit.object.status,
    state: visit.object.state,
    data: visit.object.data,
    variables: visit.object.variables,
    head: visit.object.head,
    object_sha256: sha256(visit.bytes),
    children: visit.children.map(sha256),
  }
  for (const k of EXPECT_KEYS) {
    assert.deepStrictEqual(JSON.parse(JSON.stringify(got[k])), v.expect[k], `${name} visit ${index}: ${k} differs`)
  }
  objects[target] = visit.bytes
  for (const c of visit.children) objects[`child:${Object.keys(objects).filter((k) => k.startsWith('child:')).length}`] = c
}

test('every vector replays byte-identically', async () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(VECTORS, 'manifest.json'), 'utf8'))
  assert.equal(manifest.format, 1)
  const listed = manifest.vectors.reduce((n, v) => n + v.visits.length, 0)
  let ran = 0
  let proofs = 0
  for (const vector of manifest.vectors) {
    const objects = { parent: fs.readFileSync(path.join(VECTORS, vector.object)) }
    // Objects the vector brings along (a forged child).
    for (const [key, file] of Object.entries(vector.extra_objects)) objects[key] = fs.readFileSync(path.join(VECTORS, file))
    for (const [i, v] of vector.visits.entries()) {
      await runVisit(vector.name, i, v, objects)
      ran++
    }
    const final = fs.readFileSync(path.join(VECTORS, vector.final_object))
    assert.ok(Buffer.compare(objects.parent, final) === 0, `${vector.name}: the final object differs`)
    proofs += checkPrunedProofs(vector, final)
  }
  assert.equal(ran, listed, `ran ${ran} of ${listed} visits: an entry was skipped`)
  assert.ok(ran >= 35)
  assert.ok(proofs > 0, 'no pruned-record proof was checked')
})

// Each pruned-record proof is made again from the archive, byte for byte, holds against
// the final object, and fails naming `proof` once its record hash changes.
function checkPrunedProofs(vector, final) {
  if (vector.pruned_proofs.length === 0) return 0
  const archive = vector.archive.map((f) => fs.readFileSync(path.join(VECTORS, f)))
  const obj = peo.Object.fromBytes(final)
  for (const p of vector.pruned_proofs) {
    const made = obj.provePruned(archive, p.seq)
    assert.deepEqual(peo.canonical('PrunedProof', made), p.proof, `${vector.name}: the proof of record ${p.seq} differs`)
    assert.equal(made.recordHash, p.proof.record_hash)
    obj.checkPruned(made)
    obj.checkPruned(JSON.stringify(made))
    const h = made.recordHash
    const tampered = { ...made, recordHash: h.slice(0, 63) + (h.endsWith('0') ? '1' : '0') }
    assert.throws(
      () => obj.checkPruned(tampered),
      (e) => e instanceof peo.IntegrityError && e.field === 'proof' && e.record === p.seq,
    )
  }
  return vector.pruned_proofs.length
}

test('a proof needs a pruned record, its archive and a proof shape', () => {
  const final = peo.Object.fromBytes(fs.readFileSync(path.join(VECTORS, 'objects', 'compaction-poll.final.peo')))
  assert.throws(() => final.provePruned([], 10_000), (e) => e instanceof peo.InvalidArgumentError && e.field === 'seq')
  assert.throws(() => final.provePruned([], -1), (e) => e instanceof peo.InvalidArgumentError && e.field === 'seq')
  assert.throws(() => final.provePruned([], 1.5), TypeError)
  assert.throws(() => final.provePruned([], 0), peo.IntegrityError) // the archive is missing
  assert.throws(() => final.checkPruned({ index: 0 }), (e) => e instanceof peo.InvalidArgumentError && e.field === 'proof')
  assert.throws(() => final.checkPruned('{not json'), peo.DecodeError)
})

test('one error class per error kind of the engine', () => {
  // The manifest lists every ErrorKind of the engine: each has its class, and there are no others.
  const listed = JSON.parse(fs.readFileSync(path.join(VECTORS, 'manifest.json'), 'utf8')).errors
  const classes = Object.values(peo).filter((c) => typeof c === 'function' && c.prototype instanceof peo.PeoError)
  assert.deepEqual(classes.map((c) => new c('m').code).sort(), listed.map((e) => e.code).sort())
  for (const { code, kind } of listed) {
    const cls = classes.find((c) => new c('m').code === code)
    const e = new cls('m', { record: 3, state: 'S', field: 'F' })
    assert.ok(e instanceof peo.PeoError && e instanceof Error)
    assert.deepEqual([e.code, e.kind, e.record, e.state, e.field, e.name], [code, kind, 3, 'S', 'F', cls.name])
  }
})

test('a compacted object verifies and names its checkpoint', () => {
  const final = peo.Object.fromBytes(fs.readFileSync(path.join(VECTORS, 'objects', 'compaction-poll.final.peo')))
  const report = final.verify({ trustedKeys: [peo.SigningKey.fromBytes(Buffer.alloc(32, 2)).publicKey()] })
  assert.ok(report.recordsPruned > 0)
  assert.equal(report.checkpoint.node, 'worker-1')
  assert.equal(report.checkpoint.pruned, report.recordsPruned)
  assert.ok(report.checkpoint.trusted)
  assert.ok(report.checkpoint.attests.startsWith(`records 0-${report.recordsPruned - 1} attested by worker-1`))
  assert.equal(final.memory[0].seq, report.recordsPruned)
  assert.ok(final.memory.some((r) => r.action === 'checkpoint'))
  // Keys passed as a bare list are a mistake, not a verification that trusts nothing.
  assert.throws(() => final.verify([]), TypeError)
})
