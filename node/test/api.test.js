// The Node API end to end: objects, keys, a two-node visit with JS handlers (sync and
// async) and Cedar policies, and bad input of every kind.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const peo = require(require('./package'))

const ORDER_PLAN = {
  StartAt: 'Reserve',
  States: {
    Reserve: { Type: 'Task', Resource: 'inventory.reserve', ResultPath: '$.reservation', Next: 'Charge' },
    Charge: { Type: 'Task', Resource: 'payment.charge', ResultPath: '$.payment', End: true },
  },
}
const T0 = 1_700_000_000_000
const order = (key) => peo.Object.create(ORDER_PLAN, { context: { labels: ['orders'] }, input: { order: 7, sku: 'A1', qty: 2 }, nowMs: T0, key })

test('objects round-trip and read naturally', () => {
  const key = peo.SigningKey.generate()
  const obj = order(key)
  const bytes = obj.toBytes()
  assert.ok(Buffer.isBuffer(bytes) && bytes.subarray(4, 8).toString() === 'PEO1')
  const again = peo.Object.fromBytes(bytes)
  assert.ok(again.toBytes().equals(bytes))
  assert.equal(obj.status, 'running')
  assert.equal(obj.state, 'Reserve')
  assert.equal(obj.id.length, 32)
  assert.deepEqual(obj.data, { order: 7, sku: 'A1', qty: 2 })
  const [genesis] = obj.memory
  assert.equal(genesis.action, 'genesis')
  assert.equal(genesis.node.key, key.publicKey().toString('hex'))
  assert.throws(() => { genesis.seq = 4 }, TypeError)
  const report = obj.verify({ trustedKeys: [key.publicKey()] })
  assert.ok(report.valid && report.signers[0].trusted)
  assert.equal(obj.toJSON().id, obj.id)
  assert.equal(JSON.parse(JSON.stringify(obj)).context.labels[0], 'orders')
  const seed = Buffer.alloc(32, 9)
  assert.ok(peo.SigningKey.fromBytes(seed).toBytes().equals(seed))
})

test('two nodes with sync and async JS handlers and Cedar policies', async () => {
  const [shop, whKey, bankKey] = [0, 1, 2].map(() => peo.SigningKey.generate())
  const trustedKeys = [shop, whKey, bankKey].map((k) => k.publicKey())
  const warehouse = new peo.Node({
    id: 'warehouse-1', domain: 'eu', key: whKey, trustedKeys, facts: { site: 'lyon' },
    policy: 'permit(principal, action, resource) when { context.labels.contains("orders") };',
  })
  let seenKey
  warehouse.handle('inventory.reserve', (o, ctx) => {
    seenKey = ctx.idempotencyKey
    ctx.refine({ Objective: 'ship order 7 today' })
    return { held: o.qty }
  })
  const bank = new peo.Node({
    id: 'bank-1', domain: 'us', key: bankKey, trustedKeys,
    policy: 'forbid(principal, action == Peo::Action::"execute", resource) when { context.node_domain == "eu" };\npermit(principal, action, resource);',
  })
  bank.handle('payment.charge', async (o) => {
    await new Promise((r) => setTimeout(r, 5))
    return { charged: 30, held: o.reservation.held }
  })
  const obj = order(shop)
  const first = await warehouse.visit(obj)
  assert.equal(first.disposition.kind, 'delegate')
  assert.equal(first.disposition.capability, 'payment.charge')
  assert.equal(seenKey, `${obj.id}/Reserve/1/0`)
  assert.deepEqual(first.records.map((r) => r.action), ['execute', 'mutate', 'delegate'])
  const second = await bank.visit(first.bytes)
  assert.equal(second.disposition.kind, 'terminated')
  assert.equal(second.disposition.status, 'succeeded')
  assert.deepEqual(second.disposition.output.payment, { charged: 30, held: 2 })
  assert.equal(second.object.toJSON().intent.objective, 'ship order 7 today')
  assert.ok(second.object.verify({ trustedKeys }).valid)
  assert.throws(() => second.object.verify({ trustedKeys: [shop.publicKey()] }), (e) => e instanceof peo.SignatureError && e.code === 'PEO_SIGNATURE' && e.record !== null)
  await assert.rejects(warehouse.visit(order(peo.SigningKey.generate())), (e) => e instanceof peo.SignatureError)
  await assert.rejects(bank.visit(second.object), (e) => e instanceof peo.TerminatedError && e.code === 'PEO_TERMINATED')
})

test('the event loop runs while async handlers wait: timers fire, visits interleave', async () => {
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' })
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  node.handle('inventory.reserve', async () => {
    await new Promise((r) => setTimeout(r, 30))
    return { held: 1 }
  })
  const visits = await Promise.all([node.visit(order()), node.visit(order()), node.visit(order())])
  clearInterval(timer)
  assert.ok(visits.every((v) => v.disposition.kind === 'delegate'))
  assert.ok(ticks >= 5, `${ticks}`)
})

test('outputs of any length and script arrive whole', async () => {
  // The addon reads each output into a buffer it reuses: outputs around and past its
  // size, with characters of one to four UTF-8 bytes cut anywhere, must arrive intact.
  const plan = { StartAt: 'Echo', States: { Echo: { Type: 'Task', Resource: 'echo', End: true } } }
  const pieces = ['a', 'é', '€', '😀']
  for (let n = 200; n <= 300; n++) {
    const text = Array.from({ length: n }, (_, i) => pieces[(i * 7 + n) % 4]).join('')
    const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' }).handle('echo', () => ({ text }))
    const visit = await node.visit(peo.Object.create(plan, { nowMs: T0 }))
    assert.equal(visit.object.data.text, text)
  }
  const big = 'ß'.repeat(100_000)
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' }).handle('echo', () => ({ big }))
  assert.equal((await node.visit(peo.Object.create(plan, { nowMs: T0 }))).object.data.big, big)
})

test('a handler replaced during a visit serves the next calls', async () => {
  const plan = {
    StartAt: 'One',
    States: {
      One: { Type: 'Task', Resource: 'step', Next: 'Two' },
      Two: { Type: 'Task', Resource: 'step', Next: 'Three' },
      Three: { Type: 'Task', Resource: 'step', End: true },
    },
  }
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' })
  node.handle('step', (v) => {
    node.handle('step', (w) => ({ calls: [...w.calls, 'replacement'] }))
    return { calls: [...v.calls, 'first'] }
  })
  const visit = await node.visit(peo.Object.create(plan, { input: { calls: [] }, nowMs: T0 }))
  assert.deepEqual(visit.object.data.calls, ['first', 'replacement', 'replacement'])
})

test('handler failures are recorded, never crash the visit', async () => {
  const plan = {
    StartAt: 'Call',
    States: {
      Call: { Type: 'Task', Resource: 'x.call', End: true, Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }] },
      Caught: { Type: 'Pass', End: true },
    },
  }
  const cyclic = {}
  cyclic.self = cyclic
  const cases = [
    [() => { throw new peo.TaskFailed('Stock.Out', 'sku A1') }, 'Stock.Out', 'sku A1'],
    [() => { throw new RangeError('too far') }, 'RangeError', 'too far'],
    [async () => { throw new Error('async boom') }, 'Error', 'async boom'],
    [() => Promise.reject('a string'), 'Error', 'a string'],
    [() => undefined, peo.HANDLER_INVALID_OUTPUT, 'undefined'],
    [() => cyclic, peo.HANDLER_INVALID_OUTPUT, 'not JSON'],
    [() => 10n, peo.HANDLER_INVALID_OUTPUT, 'not JSON'],
    [() => () => 1, peo.HANDLER_INVALID_OUTPUT, 'not JSON'],
  ]
  for (const [fn, error, cause] of cases) {
    const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' }).handle('x.call', fn)
    const visit = await node.visit(peo.Object.create(plan, { nowMs: T0 }))
    assert.equal(visit.object.status, 'succeeded')
    const got = visit.object.data.error
    assert.equal(got.Error, error)
    assert.ok(got.Cause.includes(cause), `${got.Cause} should mention ${cause}`)
  }
})

test('events resume awaiting objects', async () => {
  const plan = {
    StartAt: 'Approve',
    States: { Approve: { Type: 'Pass', ResultPath: '$.approval', End: true } },
    Await: { Approve: { Event: 'approval' } },
  }
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any', nowMs: T0 + 5 })
  const first = await node.visit(peo.Object.create(plan, { nowMs: T0 }))
  assert.equal(first.disposition.kind, 'dormant')
  assert.equal(first.disposition.event, 'approval')
  const done = await node.visit(first.bytes, { event: { name: 'approval', payload: { by: 'ops' } } })
  assert.deepEqual(done.object.data.approval, { by: 'ops' })
  await assert.rejects(node.visit(first.bytes, { event: 'approval' }), TypeError)
  await assert.rejects(node.visit(first.bytes, { event: { payload: 1 } }), (e) => e instanceof peo.InvalidArgumentError)
})

test('an Await naming Signers takes only events they signed for this object', async () => {
  const [ops, eve] = [peo.SigningKey.generate(), peo.SigningKey.generate()]
  const plan = {
    StartAt: 'Approve',
    States: { Approve: { Type: 'Pass', ResultPath: '$.approval', End: true } },
    Await: { Approve: { Event: 'approved', Signers: [ops.publicKey().toString('hex')] } },
  }
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' })
  const waiting = await node.visit(peo.Object.create(plan))
  const id = waiting.object.id
  const other = peo.Object.create(plan, { input: { n: 2 } }).id
  const approval = { name: 'approved', payload: { by: 'ops' } }
  for (const forged of [approval, eve.signEvent(id, approval), ops.signEvent(other, approval)]) {
    assert.equal((await node.visit(waiting.bytes, { event: forged })).appended, 0, JSON.stringify(forged))
  }
  const signed = ops.signEvent(id, approval)
  assert.equal(signed.signer, ops.publicKey().toString('hex'))
  assert.equal(signed.signature.length, 128)
  const done = await node.visit(waiting.bytes, { event: signed })
  assert.equal(done.object.status, 'succeeded')
  assert.deepEqual(done.object.data.approval, { by: 'ops' })
  assert.throws(() => ops.signEvent('not-an-id', approval), (e) => e instanceof peo.InvalidArgumentError)
  assert.throws(() => ops.signEvent(id, 'approved'), TypeError)
})

test('bad input rejects with the documented codes', async () => {
  let seed = 7
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' })
  for (let i = 0; i < 300; i++) {
    const junk = Buffer.from(Array.from({ length: rand() + (i % 3) * 100 }, rand))
    assert.throws(() => peo.Object.fromBytes(junk), (e) => e instanceof peo.PeoError && ['PEO_DECODE', 'PEO_INTEGRITY', 'PEO_UNSUPPORTED'].includes(e.code))
    await assert.rejects(node.visit(junk), (e) => e instanceof peo.PeoError)
  }
  const bytes = order().toBytes()
  for (let cut = 0; cut < bytes.length; cut += 11) {
    assert.throws(() => peo.Object.fromBytes(bytes.subarray(0, cut)), (e) => e instanceof peo.DecodeError && e.code === 'PEO_DECODE')
  }
  assert.throws(() => peo.Object.create('{not json'), (e) => e instanceof peo.DecodeError)
  assert.throws(
    () => peo.Object.create({ StartAt: 'X', States: { X: { Type: 'Task', Resourse: 'a', End: true } } }),
    (e) => e instanceof peo.InvalidIntentError && e.code === 'PEO_INVALID_INTENT' && /Resourse/.test(e.message),
  )
  assert.throws(() => peo.Object.create(ORDER_PLAN, { input: { n: 1n } }), (e) => e instanceof peo.InvalidArgumentError && e.cause instanceof TypeError)
  assert.throws(() => peo.Object.create(42), TypeError)
  assert.throws(() => peo.Object.create([1]), TypeError)
  assert.throws(() => peo.Object.fromBytes('text'), TypeError)
  assert.throws(() => peo.Object.create(ORDER_PLAN, { nowMs: 'soon' }), TypeError)
  assert.throws(() => peo.SigningKey.fromBytes(Buffer.alloc(5)), (e) => e instanceof peo.InvalidArgumentError)
  assert.throws(() => new peo.Node({ id: 'n', domain: 'd', trustedKeys: [Buffer.alloc(31)] }), (e) => e.code === 'PEO_INVALID_ARGUMENT')
  assert.throws(
    () => new peo.Node({ id: 'n', domain: 'd', policy: 'permit(principal, action, resource) when { context.nope == 1 };' }),
    (e) => e instanceof peo.InvalidArgumentError && /schema/.test(e.message),
  )
  assert.throws(() => new peo.Node({ id: 'n' }), TypeError)
  assert.throws(() => new peo.Node({ id: '', domain: 'd' }), (e) => e instanceof peo.InvalidArgumentError)
  assert.throws(() => new peo.Node({ id: 'n', domain: 'd', facts: [1] }), TypeError)
  assert.throws(() => node.handle('x', 3), TypeError)
  await assert.rejects(node.visit('bytes'), TypeError)
})

test('advisor proposals are checked and recorded; a clock function is read every cycle', async () => {
  const advice = []
  const node = new peo.Node({
    id: 'n', domain: 'd', trust: 'any',
    policy: 'permit(principal, action, resource) unless { action == Peo::Action::"terminate" && context.advised };',
    advisor: (obj) => {
      advice.push(obj.state)
      if (obj.state === 'Reserve') return { action: 'execute', target: 'inventory.reserve', confidence: 0.9, rationale: 'in stock' }
      return { action: 'terminate', rationale: 'give up' } // forbidden by the policy: overridden
    },
  })
  node.handle('inventory.reserve', () => ({ held: 1 }))
  const visit = await node.visit(order())
  assert.deepEqual(advice.slice(0, 2), ['Reserve', 'Charge'])
  assert.equal(visit.records[0].advice.followed, true)
  assert.equal(visit.records[0].advice.rationale, 'in stock')
  const overridden = visit.records.filter((r) => r.advice && !r.advice.followed)
  assert.ok(overridden.length > 0 && overridden[0].advice.action === 'terminate')

  // An advisor that throws gives no advice (a warning), and the visit goes on.
  const warned = new Promise((resolve) => process.once('warning', resolve))
  const thrower = new peo.Node({ id: 'n', domain: 'd', trust: 'any', advisor: () => { throw new Error('boom') } })
  thrower.handle('inventory.reserve', () => ({ held: 1 }))
  assert.equal((await thrower.visit(order())).disposition.kind, 'delegate')
  assert.match(String((await warned).message), /boom/)

  // The clock: records carry its readings; one that throws fails the visit with its error.
  let now = T0 + 5
  const clocked = new peo.Node({ id: 'n', domain: 'd', trust: 'any', clock: () => now++ })
  clocked.handle('inventory.reserve', () => ({ held: 1 }))
  const times = (await clocked.visit(order())).records.map((r) => r.timeMs)
  assert.ok(times[0] >= T0 + 5 && times[0] < T0 + 50, `${times}`)
  const broken = new peo.Node({ id: 'n', domain: 'd', trust: 'any', clock: () => { throw new RangeError('no time') } })
  await assert.rejects(broken.visit(order()), (e) => e instanceof RangeError && e.message === 'no time')
  const wrong = new peo.Node({ id: 'n', domain: 'd', trust: 'any', clock: () => 'noon' })
  await assert.rejects(wrong.visit(order()), (e) => e instanceof TypeError && /not an integer/.test(e.message))
  assert.throws(() => new peo.Node({ id: 'n', domain: 'd', advisor: 3 }), TypeError)
})

test('an advisor may drive another visit of its node while its own visit steps', async () => {
  let started = false
  let nested
  const node = new peo.Node({
    id: 'n', domain: 'd', trust: 'any',
    advisor: () => {
      if (!started) {
        started = true
        nested = node.visit(order())
      }
      return null
    },
  })
  node.handle('inventory.reserve', () => ({ held: 1 }))
  const outer = await node.visit(order())
  const inner = await nested
  assert.equal(outer.disposition.kind, 'delegate')
  assert.equal(inner.disposition.kind, 'delegate')
  assert.equal(inner.appended, outer.appended)
  assert.deepEqual(inner.object.data, outer.object.data)
})

test('native errors carry the record, state and field they concern', async () => {
  // The hierarchy itself is checked against the engine's list in vectors.test.js.
  assert.match(peo.version, /^\d+\.\d+\.\d+/)
  assert.throws(() => peo.Object.create({ StartAt: 'X', States: { X: { Type: 'Task', Resourse: 'a', End: true } } }),
    (e) => e instanceof peo.InvalidIntentError && e.state === 'X' && e.message.includes('Resourse') && !e.message.includes('\u0000'))
  // A message that quotes a NUL keeps its fields and its text.
  assert.throws(() => peo.Object.create({ StartAt: 'A\u0000b', States: { Q: { Type: 'Succeed' } } }),
    (e) => e instanceof peo.InvalidIntentError && e.field === 'StartAt' && e.message.includes('A\u0000b'))
  const bytes = Buffer.from(order(peo.SigningKey.generate()).toBytes())
  bytes[bytes.length - 20] ^= 0xff
  assert.throws(() => peo.Object.fromBytes(bytes), (e) => e instanceof peo.PeoError && e.record !== null)
})

test('a node accepts only what its trust store vouches for', async () => {
  const [shop, wh] = [peo.SigningKey.generate(), peo.SigningKey.generate()]
  const obj = order(shop)
  // Without trust settings a node accepts nothing, not even a signed object.
  await assert.rejects(new peo.Node({ id: 'n', domain: 'd' }).visit(obj), (e) => e instanceof peo.SignatureError)
  // An empty key list trusts nothing.
  await assert.rejects(new peo.Node({ id: 'n', domain: 'd', trustedKeys: [] }).visit(obj), (e) => e instanceof peo.SignatureError)
  const store = {
    keys: [
      { key: Buffer.from(shop.publicKey()).toString('hex'), subjects: ['*'] },
      { key: Buffer.from(wh.publicKey()).toString('hex'), nodes: ['warehouse-1'], domain: 'eu' },
    ],
  }
  const node = new peo.Node({ id: 'warehouse-1', domain: 'eu', key: wh, trust: store })
  node.handle('inventory.reserve', (o) => ({ held: o.qty }))
  const visited = await node.visit(obj)
  assert.ok(visited.object.verify({ trustedKeys: [shop.publicKey(), wh.publicKey()] }).valid)
  // The same key signing as another node is refused by a node holding the store.
  const impostor = new peo.Node({ id: 'bank-1', domain: 'us', key: wh, trust: store })
  impostor.handle('inventory.reserve', (o) => ({ held: o.qty }))
  const forged = (await impostor.visit(obj)).object
  await assert.rejects(
    new peo.Node({ id: 'x', domain: 'eu', trust: store }).visit(forged),
    (e) => e.code === 'PEO_SIGNATURE' && /claims node `bank-1`/.test(e.message),
  )
  assert.throws(() => new peo.Node({ id: 'n', domain: 'd', trust: { keyz: [] } }), (e) => e.code === 'PEO_INVALID_ARGUMENT')
  assert.throws(() => new peo.Node({ id: 'n', domain: 'd', trust: 3 }), TypeError)
})

test('a node compacts objects whose plan does not', async () => {
  const plan = {
    StartAt: 'A',
    States: {
      A: { Type: 'Pass', Next: 'B' },
      B: { Type: 'Pass', Next: 'C' },
      C: { Type: 'Pass', Next: 'W' },
      W: { Type: 'Wait', Seconds: 1, Next: 'D' },
      D: { Type: 'Pass', End: true },
    },
  }
  let now = T0
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any', clock: () => now, compaction: { after: 4, keep: 0 } })
  const first = await node.visit(peo.Object.create(plan, { nowMs: T0 }))
  assert.equal(first.disposition.kind, 'dormant')
  now = T0 + 1000
  const done = await node.visit(first.bytes)
  assert.equal(done.object.status, 'succeeded')
  assert.deepEqual(done.records.map((r) => r.action), ['reentry', 'checkpoint', 'mutate', 'terminate'])
  const report = done.object.verify()
  assert.equal(report.recordsPruned, 5)
  assert.equal(report.checkpoint.node, 'n')
  assert.deepEqual(first.archive, [])
  assert.equal(done.archive.length, 1)
  const audit = done.object.audit(done.archive)
  assert.equal(audit.recordsPruned, 0)
  assert.equal(audit.checkpointsAudited, 1)
  assert.throws(() => done.object.audit([]), (e) => e instanceof peo.IntegrityError)
  assert.throws(() => done.object.audit([Buffer.from('not a segment')]), (e) => e instanceof peo.DecodeError)
  assert.throws(() => new peo.Node({ id: 'n', domain: 'd', compaction: { after: 4, keep: 4 } }), (e) => e instanceof peo.InvalidIntentError)
})

test('completions in a batch are one record; a bad batch changes nothing', async () => {
  const plan = {
    StartAt: 'Sq',
    States: {
      Sq: { Type: 'Map', ItemsPath: '$.n', ResultPath: '$.sq', End: true, ItemProcessor: { StartAt: 'S', States: { S: { Type: 'Task', Resource: 'sq', End: true } } } },
    },
  }
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' })
  node.handle('sq', (x) => x * x)
  const parent = await node.visit(peo.Object.create(plan, { input: { n: [1, 2, 3] }, nowMs: T0 }))
  const done = []
  for (const c of parent.children) done.push((await node.visit(c)).bytes)
  const other = await node.visit(peo.Object.create(plan, { input: { n: [9] }, nowMs: T0 }))
  const stranger = (await node.visit(other.children[0])).bytes
  await assert.rejects(node.complete(parent.bytes, [done[0], stranger]), (e) => e instanceof peo.IntegrityError)
  await assert.rejects(node.complete(parent.bytes, []), (e) => e instanceof peo.InvalidArgumentError)
  const two = await node.complete(parent.object, [peo.Object.fromBytes(done[2]), done[0]])
  assert.equal(two.appended, 1)
  assert.equal(two.records[0].body.payload.results.count, 2)
  const last = await node.complete(two.bytes, [done[1], done[0]])
  assert.equal(last.object.status, 'succeeded')
  assert.deepEqual(last.object.data.sq, [1, 4, 9])
})

test('JSONata plans run with variables, and bad ones name the state and the field', async () => {
  const bad = { QueryLanguage: 'JSONata', StartAt: 'S', States: { S: { Type: 'Pass', Output: '{% 1 + %}', End: true } } }
  assert.throws(() => peo.Object.create(bad),
    (e) => e instanceof peo.InvalidIntentError && e.state === 'S' && e.field === 'Output' && /does not parse/.test(e.message))
  assert.throws(() => peo.Object.create({ StartAt: 'S', States: { S: { Type: 'Pass', Assign: { states: 1 }, End: true } } }),
    (e) => e instanceof peo.InvalidIntentError && e.field === 'Assign.states')
  const plan = {
    QueryLanguage: 'JSONata',
    StartAt: 'A',
    States: {
      A: { Type: 'Pass', Assign: { n: '{% $states.input.n * 2 %}' }, Next: 'B' },
      B: { Type: 'Pass', Output: { n: '{% $n %}', missing: '{% $states.input.nope %}' }, End: true }
    }
  }
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' })
  const visit = await node.visit(peo.Object.create(plan, { input: { n: 21 }, nowMs: T0 }))
  assert.deepStrictEqual(visit.object.variables, { n: 42 })
  assert.deepStrictEqual(visit.object.memory[1].assigned, { n: 42 })
  assert.strictEqual(visit.object.status, 'failed')
  assert.strictEqual(visit.disposition.error.error, 'States.QueryEvaluationError')
  assert.match(visit.disposition.error.cause, /'Output\/missing' returned nothing/)
})

test('a visit whose drive is collected unfinished gives its visit back', () => {
  // A handler's Promise that never settles, and nobody holding the visit: the garbage
  // collector takes the drive, and the addon's visit goes with it (no leak).
  const script = `
    const path = require('node:path')
    const pkg = ${JSON.stringify(require('./package'))}
    const peo = require(pkg)
    const native = require(path.join(pkg, 'index.js'))
    const plan = { StartAt: 'A', States: { A: { Type: 'Task', Resource: 'never', End: true } } }
    const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' }).handle('never', () => new Promise(() => {}))
    for (let i = 0; i < 5; i++) node.visit(peo.Object.create(plan, { input: {}, nowMs: 1 }).toBytes())
    const started = native.visitsInProgress()
    ;(async () => {
      for (let i = 0; i < 100 && native.visitsInProgress() > 0; i++) {
        global.gc()
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      console.log(JSON.stringify([started, native.visitsInProgress()]))
    })()
  `
  const out = require('node:child_process').execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' })
  assert.deepEqual(JSON.parse(out.trim()), [5, 0])
})
