// JS nodes on a real NATS JetStream (`nats-server -js` on loopback): two JS nodes in two
// domains serve objects, an event wakes a dormant one, an unreachable server is a
// TransportError.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const peo = require(require('./package'))
const { startNats, freePort } = require('./nats.js')

const PLAN = {
  StartAt: 'Reserve',
  States: {
    Reserve: { Type: 'Task', Resource: 'inventory.reserve', ResultPath: '$.reservation', Next: 'Approve' },
    Approve: { Type: 'Task', Resource: 'approvals.request', ResultPath: '$.approval', Next: 'Charge' },
    Charge: { Type: 'Task', Resource: 'payment.charge', ResultPath: '$.payment', End: true },
  },
  Await: { Approve: { EventPath: '$.token', TimeoutSeconds: 60 } },
}

test('JS nodes serve objects across domains; events wake dormant ones', async () => {
  const nats = await startNats()
  try {
    const warehouse = new peo.Node({ id: 'js-warehouse', domain: 'warehouse', trust: 'any' })
    const keys = []
    warehouse.handle('inventory.reserve', (order, ctx) => {
      keys.push(ctx.idempotencyKey)
      return { held: order.qty }
    })
    const payments = new peo.Node({ id: 'js-payments', domain: 'payments', trust: 'any' })
    payments.handle('payment.charge', async (order) => {
      await new Promise((r) => setTimeout(r, 1))
      return { charged: order.qty * 5 }
    })
    const stop = new AbortController()
    const serving = [warehouse.serve(nats.url, { signal: stop.signal }), payments.serve(nats.url, { signal: stop.signal })]
    const mesh = await peo.JetStream.connect(nats.url)
    const ids = []
    for (let i = 0; i < 5; i++) {
      ids.push(await mesh.submit(peo.Object.create(PLAN, { input: { qty: i + 1, token: `ok-${i}` } })))
    }
    await new Promise((r) => setTimeout(r, 300))
    for (let i = 0; i < 5; i++) await mesh.sendEvent(ids[i], { name: `ok-${i}`, payload: { by: 'ann' } })
    const done = await mesh.wait(ids, { timeout: 30000 })
    stop.abort()
    const stats = await Promise.all(serving)
    assert.deepEqual(Object.keys(done).sort(), [...ids].sort())
    ids.forEach((id, i) => {
      const o = done[id]
      assert.equal(o.status, 'succeeded')
      assert.deepEqual(o.data.payment, { charged: (i + 1) * 5 })
      assert.deepEqual(o.data.approval, { by: 'ann' })
      assert.ok(o.verify().valid)
      const nodes = new Set(o.memory.map((r) => r.node.id))
      assert.ok(nodes.has('js-warehouse') && nodes.has('js-payments'), [...nodes].join())
    })
    assert.equal(new Set(keys).size, 5)
    assert.ok(stats[0].visits >= 5)
    assert.equal(stats[0].duplicates + stats[1].duplicates, 0)
    const again = await mesh.get(ids[0])
    assert.ok(again.toBytes().equals(done[ids[0]].toBytes()))
    assert.equal(await mesh.get('00'.repeat(16)), null)
    await assert.rejects(mesh.submit(Buffer.from('garbage')), (e) => e instanceof peo.DecodeError)
    await assert.rejects(mesh.sendEvent(ids[0], 'x'), TypeError)
  } finally {
    nats.stop()
  }
})

test('a JS node keeps what its compactions prune in the mesh; the object audits against it', async () => {
  const nats = await startNats()
  try {
    const node = new peo.Node({ id: 'js-counter', domain: 'eu', trust: 'any', compaction: { after: 6, keep: 2 } })
    node.handle('count', (x) => ({ n: x.n + 1 }))
    const js = await peo.JetStream.connect(nats.url)
    const ac = new AbortController()
    const serving = js.serve(node, { signal: ac.signal })
    const plan = {
      StartAt: 'Count',
      States: {
        Count: { Type: 'Task', Resource: 'count', Next: 'Check' },
        Check: { Type: 'Choice', Choices: [{ Variable: '$.n', NumericGreaterThanEquals: 8, Next: 'Done' }], Default: 'Count' },
        Done: { Type: 'Succeed' },
      },
    }
    const id = await js.submit(peo.Object.create(plan, { input: { n: 0 } }))
    const done = await js.wait([id], { timeout: 30000 })
    ac.abort()
    await serving
    const last = done[id]
    assert.equal(last.status, 'succeeded')
    const archive = await js.archive(id)
    assert.ok(archive.length > 0, 'segments kept')
    const report = last.audit(archive)
    assert.ok(report.valid && report.checkpointsAudited >= 1, JSON.stringify(report))
    assert.throws(() => last.audit([]), peo.IntegrityError)
  } finally {
    nats.stop()
  }
})

const ONE_STEP = { StartAt: 'Slow', States: { Slow: { Type: 'Task', Resource: 'slow', End: true } } }

test('a window visits deliveries at once; its bounds are InvalidArgumentErrors', async () => {
  const nats = await startNats()
  try {
    const node = new peo.Node({ id: 'js-window', domain: 'eu', trust: 'any' })
    let now = 0
    let most = 0
    node.handle('slow', async (x) => {
      most = Math.max(most, ++now)
      await new Promise((r) => setTimeout(r, 200))
      now--
      return { i: x.i, done: true }
    })
    const js = await peo.JetStream.connect(nats.url)
    for (const window of [0, 1.5, 1025]) {
      await assert.rejects(js.serve(node, { window }), (e) => {
        assert.ok(e instanceof peo.InvalidArgumentError, String(e))
        assert.equal(e.code, 'PEO_INVALID_ARGUMENT')
        assert.match(e.message, /window must be a whole number .* from 1 to 1024/)
        return true
      })
    }
    await assert.rejects(js.serve(node, { window: '4' }), TypeError)
    const ids = []
    for (let i = 0; i < 8; i++) ids.push(await js.submit(peo.Object.create(ONE_STEP, { input: { i } })))
    const ac = new AbortController()
    const started = Date.now()
    const serving = js.serve(node, { signal: ac.signal, window: 4 })
    const done = await js.wait(ids, { timeout: 30000 })
    const took = Date.now() - started
    ac.abort()
    const stats = await serving
    assert.deepEqual(Object.keys(done).sort(), [...ids].sort())
    for (const id of ids) assert.ok(done[id].status === 'succeeded' && done[id].data.done)
    assert.equal(most, 4, `visits at once: ${most}`)
    assert.ok(took < 8 * 200, `8 visits of 200 ms in ${took} ms`)
    assert.ok(stats.visits >= 8)
  } finally {
    nats.stop()
  }
})

test('a visit that throws in a window gives its delivery back and ends the loop after the others', async () => {
  const nats = await startNats()
  try {
    // A clock that throws fails the visit with its error (not a PeoError): the loop ends.
    let ticks = 0
    const clock = () => {
      if (++ticks === 1) throw new RangeError('the clock broke')
      return Date.now()
    }
    const node = new peo.Node({ id: 'js-broken', domain: 'eu', trust: 'any', clock })
    let running = 0
    node.handle('slow', async (x) => {
      running++
      await new Promise((r) => setTimeout(r, 300))
      running--
      return { i: x.i, done: true }
    })
    const js = await peo.JetStream.connect(nats.url, { ackWait: 30000 })
    const ids = []
    for (let i = 0; i < 3; i++) ids.push(await js.submit(peo.Object.create(ONE_STEP, { input: { i } })))
    await assert.rejects(js.serve(node, { window: 4, idleTimeout: 20000 }), /the clock broke/)
    assert.equal(running, 0, 'the loop waited for the visits in flight')
    // The delivery came back at once (not after ackWait): the next loop finishes it.
    const started = Date.now()
    await js.serve(node, { window: 4, idleTimeout: 2000 })
    const done = await js.wait(ids, { timeout: 1000 })
    assert.ok(Date.now() - started < 10000)
    assert.ok(ids.every((id) => done[id]?.status === 'succeeded'))
  } finally {
    nats.stop()
  }
})

test('a server lost while serving is retried, then given up', async () => {
  const nats = await startNats()
  const node = new peo.Node({ id: 'js-lonely', domain: 'eu', trust: 'any' })
  node.handle('noop', (x) => x)
  const js = await peo.JetStream.connect(nats.url)
  const serving = js.serve(node, { giveUpAfter: 1000 })
  await new Promise((r) => setTimeout(r, 500))
  nats.stop()
  const killed = Date.now()
  await assert.rejects(serving, (e) => {
    assert.ok(e instanceof peo.TransportError, String(e))
    // Retried for the second it was given, not rejected at the first failure.
    assert.ok(Date.now() - killed >= 1000, `gave up after ${Date.now() - killed} ms`)
    return true
  })
})

test('security reaches the server, and its mistakes are InvalidArgumentErrors', async () => {
  const fixtures = path.join(__dirname, '..', '..', 'tests', 'nats')
  const tls = { ca: path.join(fixtures, 'ca.pem'), cert: path.join(fixtures, 'client.pem'), key: path.join(fixtures, 'client-key.pem') }
  const nats = await startNats(path.join(fixtures, 'secure.conf'))
  try {
    const mesh = await peo.JetStream.connect(nats.url, { security: { ...tls, user: 'node', password: 'node-test-password' } })
    assert.equal(typeof (await mesh.submit(peo.Object.create(PLAN, { input: { sku: 's' } }))), 'string')
    await assert.rejects(peo.JetStream.connect(nats.url, { security: tls }), (e) => {
      assert.ok(e instanceof peo.TransportError, String(e))
      assert.match(e.message, /requires credentials and this connection has none/)
      return true
    })
    await assert.rejects(peo.JetStream.connect(nats.url, { security: { user: 'node', password: 'node-test-password' } }), /TLS failed/)
  } finally {
    nats.stop()
  }
  await assert.rejects(peo.JetStream.connect(nats.url, { security: { ca: '/nonexistent/ca.pem' } }), (e) => {
    assert.ok(e instanceof peo.InvalidArgumentError, String(e))
    assert.match(e.message, /security\.ca: no such file/)
    return true
  })
  await assert.rejects(peo.JetStream.connect(nats.url, { security: { certificate: 'c.pem' } }), /unknown field `certificate`/)
  await assert.rejects(peo.JetStream.connect(nats.url, { security: 'ca.pem' }), TypeError)
})

test('work every node declines is dead-lettered after maxDeliver deliveries', async () => {
  const nats = await startNats()
  try {
    // Its policy forbids running the step: the node declines the object each time it
    // takes it, until maxDeliver deliveries end it in the dead letters.
    const refuser = new peo.Node({
      id: 'js-refuser',
      domain: 'eu',
      trust: 'any',
      policy: 'forbid(principal, action == Peo::Action::"execute", resource);\npermit(principal, action, resource);',
    })
    refuser.handle('poison.step', () => {
      throw new Error('the policy forbids running it')
    })
    const plan = { StartAt: 'P', States: { P: { Type: 'Task', Resource: 'poison.step', End: true } } }
    await (await peo.JetStream.connect(nats.url)).submit(peo.Object.create(plan, { input: {} }))
    const stats = await refuser.serve(nats.url, { maxDeliver: 2, idleTimeout: 3000 })
    assert.equal(stats.rejected, 1, JSON.stringify(stats))
    assert.ok(stats.received >= 3, JSON.stringify(stats))
    await assert.rejects(peo.JetStream.connect(nats.url, { maxDeliver: -1 }), (e) => {
      assert.ok(e instanceof peo.InvalidArgumentError, String(e))
      assert.match(e.message, /max_deliver must be a number of deliveries, or 0/)
      return true
    })
    await assert.rejects(peo.JetStream.connect(nats.url, { maxDeliver: 2.5 }), TypeError)
  } finally {
    nats.stop()
  }
})

test('replicas are from 1 to 5 and reach the server', async () => {
  const nats = await startNats()
  try {
    for (const n of [0, 6]) {
      await assert.rejects(peo.JetStream.connect(nats.url, { replicas: n }), (e) => {
        assert.ok(e instanceof peo.InvalidArgumentError, String(e))
        assert.equal(e.field, 'replicas')
        assert.match(e.message, new RegExp(`replicas must be from 1 to 5 .*, not ${n}`))
        return true
      })
    }
    await assert.rejects(peo.JetStream.connect(nats.url, { replicas: 1.5 }), TypeError)
    // A single server cannot keep three copies of a stream: its refusal comes back.
    await assert.rejects(peo.JetStream.connect(nats.url, { replicas: 3 }), (e) => {
      assert.ok(e instanceof peo.TransportError, String(e))
      assert.match(e.message, /replicas > 1 not supported in non-clustered mode/)
      return true
    })
    const node = new peo.Node({ id: 'n', domain: 'd' })
    await assert.rejects(node.serve(nats.url, { replicas: 2, idleTimeout: 1000 }), /replicas > 1/)
    const plan = { StartAt: 'A', States: { A: { Type: 'Pass', End: true } } }
    await (await peo.JetStream.connect(nats.url, { replicas: 1 })).submit(peo.Object.create(plan, { input: {} }))
  } finally {
    nats.stop()
  }
})

test('an unreachable server is a TransportError', async () => {
  const port = await freePort()
  await assert.rejects(peo.JetStream.connect(`nats://127.0.0.1:${port}`), (e) => {
    assert.ok(e instanceof peo.TransportError && e instanceof peo.PeoError)
    assert.equal(e.code, 'PEO_TRANSPORT')
    assert.match(e.message, /nats-server -js/)
    return true
  })
  await assert.rejects(peo.JetStream.connect(4222), TypeError)
  assert.throws(() => new peo.JetStream({}), TypeError)
})
