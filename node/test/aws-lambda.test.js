// The Lambda handler from Node: the same payload tests as Python's (test_aws_lambda.py),
// in process, and an object past 256 KiB by pointer through moto's S3 (started with
// $PEO_TEST_PYTHON -m moto.server; the test command sets it to its venv's Python).
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const net = require('node:net')
const peo = require(require('./package'))

const PASS = { StartAt: 'A', States: { A: { Type: 'Pass', End: true } } }
const FAIL = { StartAt: 'F', States: { F: { Type: 'Fail', Error: 'Order.Invalid', Cause: 'no lines' } } }
const node = () => new peo.Node({ id: 'lambda', domain: 'aws', trust: 'any' })
const b64 = (obj) => obj.toBytes().toString('base64')

test('a payload creates or carries an object, and the reply carries it on', async () => {
  const handle = peo.lambdaHandler(node())
  let reply = await handle({ intent: PASS, input: { n: 1 } })
  assert.deepEqual([reply.status, reply.output, reply.disposition.kind], ['succeeded', { n: 1 }, 'terminated'])
  const obj = peo.Object.fromBytes(Buffer.from(reply.object, 'base64'))
  assert.deepEqual([obj.id, obj.head, obj.memory.length], [reply.id, reply.head, reply.records])
  assert.equal(obj.verify().valid, true)

  const plan = { StartAt: 'T', States: { T: { Type: 'Task', Resource: 'elsewhere.step', End: true } } }
  reply = await handle({ intent: plan })
  assert.deepEqual([reply.status, reply.disposition.capability], ['running', 'elsewhere.step'])
  // As `lambda:invoke` returns it: the same object, one visit longer.
  const again = await handle({ StatusCode: 200, Payload: reply })
  assert.ok(again.id === reply.id && again.records > reply.records)
  const longer = peo.Object.fromBytes(Buffer.from(again.object, 'base64'))
  const before = peo.Object.fromBytes(Buffer.from(reply.object, 'base64'))
  assert.deepEqual(longer.memory.slice(0, reply.records), before.memory)
})

test("what the handler creates is signed by its node's key", async () => {
  const key = peo.SigningKey.generate()
  const signed = new peo.Node({ id: 'lambda', domain: 'aws', trust: 'any', key })
  const reply = await peo.lambdaHandler(signed)({ intent: PASS })
  const obj = peo.Object.fromBytes(Buffer.from(reply.object, 'base64'))
  // Every visit, the genesis included, verifies under that key alone.
  assert.equal(obj.verify({ trustedKeys: [key.publicKey()] }).valid, true)
  assert.throws(() => obj.verify({ trustedKeys: [peo.SigningKey.generate().publicKey()] }), peo.SignatureError)
})

test('failures throw under the error name the object gives', async () => {
  const handle = peo.lambdaHandler(node())
  await assert.rejects(handle({ intent: FAIL }), (e) => {
    assert.ok(e instanceof peo.ObjectFailed)
    assert.deepEqual([e.name, e.error, e.message], ['Order.Invalid', 'Order.Invalid', 'no lines'])
    return true
  })
  await assert.rejects(handle({ object: Buffer.from('not an object').toString('base64') }), { name: 'peo.Decode' })
  await assert.rejects(handle({ object: '!!' }), peo.DecodeError)
  const strict = new peo.Node({ id: 'strict', domain: 'aws', trustedKeys: [peo.SigningKey.generate().publicKey()] })
  await assert.rejects(peo.lambdaHandler(strict)({ object: b64(peo.Object.create(PASS)) }), { name: 'peo.Signature' })
  const refusing = new peo.Node({ id: 'shut', domain: 'aws', trust: 'any', policy: 'forbid(principal, action, resource);' })
  await assert.rejects(peo.lambdaHandler(refusing)({ intent: PASS }), (e) => e.name === 'peo.Policy' && /may not act/.test(e.message))
  await assert.rejects(handle({ input: {} }), (e) => e instanceof peo.InvalidArgumentError && /exactly one of/.test(e.message))
  await assert.rejects(handle({ object: b64(peo.Object.create(PASS)), taskToken: 't' }), /comes with an `intent`/)
  await assert.rejects(handle({ intent: PASS, taskToken: 't' }), (e) => e instanceof TypeError && /mesh/.test(e.message))
  assert.throws(() => peo.lambdaHandler({}), TypeError)
})

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function waitPort(port, proc) {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`moto.server exited with ${proc.exitCode}`)
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s.end() && true)).on('error', () => resolve(false))
    })
    if (up) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('moto.server did not start')
}

test('an object past 256 KiB goes by pointer and arrives intact', async (t) => {
  const python = process.env.PEO_TEST_PYTHON
  assert.ok(python, 'PEO_TEST_PYTHON must name a Python with moto[server] (the test command sets it)')
  const { S3Client, CreateBucketCommand, GetObjectCommand } = require(require.resolve('@aws-sdk/client-s3', { paths: [require('./package')] }))
  const port = await freePort()
  const moto = spawn(python, ['-m', 'moto.server', '-p', String(port), '-H', '127.0.0.1'], { stdio: 'ignore' })
  t.after(() => moto.kill())
  await waitPort(port, moto)
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  })
  await s3.send(new CreateBucketCommand({ Bucket: 'peo-objects' }))

  const n = node()
  n.handle('test.blob', (data) => ({ ...data, blob: 'x'.repeat(200 * 1024) }))
  n.handle('test.check', (data) => ({ blob_bytes: data.blob.length, n: data.n }))
  const handle = peo.lambdaHandler(n, { bucket: 'peo-objects', s3 })
  const plan = {
    StartAt: 'Grow',
    States: {
      Grow: { Type: 'Task', Resource: 'test.blob', Next: 'Pause' },
      Pause: { Type: 'Wait', Seconds: 1, Next: 'Check' },
      Check: { Type: 'Task', Resource: 'test.check', End: true },
    },
  }
  const first = await handle({ intent: plan, input: { n: 7 } })
  assert.deepEqual([first.status, first.object], ['dormant', undefined])
  assert.ok(first.pointer.key.startsWith(`peo/${first.id}/`) && JSON.stringify(first).length < 256 * 1024)
  const got = await s3.send(new GetObjectCommand({ Bucket: 'peo-objects', Key: first.pointer.key }))
  const body = Buffer.from(await got.Body.transformToByteArray())
  assert.ok(body.toString('base64').length > 256 * 1024)
  assert.equal(peo.Object.fromBytes(body).head, first.pointer.head)

  await new Promise((r) => setTimeout(r, 1100))
  const done = await handle({ StatusCode: 200, Payload: first })
  assert.deepEqual([done.status, done.output, done.id], ['succeeded', { blob_bytes: 200 * 1024, n: 7 }, first.id])

  // A pointer whose bytes are another version is refused, and names both.
  const wrong = { ...first.pointer, head: done.head }
  await assert.rejects(handle({ pointer: wrong }), (e) => e.name === 'peo.Integrity' && /not the pointer's/.test(e.message))
})
