// Compiled by the test command with `tsc --noEmit --strict`: the hand-written types
// (peo.d.ts) describe the API as the tests and examples use it.
import peo = require('..')

async function main(): Promise<void> {
  const key: peo.SigningKey = peo.SigningKey.generate()
  const plan = { StartAt: 'A', States: { A: { Type: 'Task', Resource: 'x.a', End: true } } }
  const obj: peo.Object = peo.Object.create(plan, { input: { n: 1 }, nowMs: 1_700_000_000_000, key })
  const bytes: Buffer = obj.toBytes()
  const again = peo.Object.fromBytes(bytes)
  const status: peo.Status = again.status
  const report: peo.VerifyReport = again.verify({ trustedKeys: [key.publicKey()] })
  const node = new peo.Node({ id: 'n1', domain: 'eu', key, trustedKeys: [key.publicKey()], policy: null, facts: { site: 'x' } })
  node
    .handle('x.a', (input: { n: number }, ctx: peo.TaskContext) => ({ n: input.n + 1, key: ctx.idempotencyKey }))
    .handle('x.b', async () => {
      throw new peo.TaskFailed('X.Failed', 'no')
    })
  const visit: peo.Visit = await node.visit(obj, { event: null })
  const d: peo.Disposition = visit.disposition
  if (d.kind === 'terminated') {
    const s: peo.Status = d.status
    console.log(s, d.output)
  } else if (d.kind === 'delegate') {
    console.log(d.capability)
  }
  const records: ReadonlyArray<peo.Record> = visit.records
  console.log(status, report.valid, records.length, visit.object.id, visit.bytes.length)
  try {
    peo.Object.fromBytes(Buffer.from('junk'))
  } catch (e) {
    if (e instanceof peo.DecodeError) {
      const code: peo.ErrorCode = e.code
      console.log(code, e.record)
    }
  }
}

async function mesh(url: string, node: peo.Node, obj: peo.Object): Promise<void> {
  const stop = new AbortController()
  const served: Promise<peo.JetStreamStats> = node.serve(url, { signal: stop.signal, ackWait: 30000 })
  const security: peo.Security = { ca: 'ca.pem', cert: 'client.pem', key: 'client-key.pem', user: 'node', password: 'p' }
  const js: peo.JetStream = await peo.JetStream.connect(url, { name: 'types', security, maxDeliver: 5 })
  const id: string = await js.submit(obj)
  await js.sendEvent(id, { name: 'approved', payload: { by: 'ann' } })
  const signed: peo.Event = peo.SigningKey.generate().signEvent(id, { name: 'approved', payload: { by: 'ann' } })
  const signer: string | undefined = signed.signer
  await js.sendEvent(id, signed)
  void signer
  const done: Record<string, peo.Object> = await js.wait([id], { timeout: 1000 })
  const latest: peo.Object | null = await js.get(id)
  stop.abort()
  const stats: peo.JetStreamStats = await served
  console.log(done[id]?.status, latest?.status, stats.duplicates, js.stats().visits)
  try {
    await peo.JetStream.connect('nats://127.0.0.1:1')
  } catch (e) {
    if (e instanceof peo.TransportError) console.log(e.code)
  }
}

function advised(): peo.Node {
  const proposal: peo.Proposal = { action: 'execute', target: 'inventory.reserve', confidence: 0.5 }
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any', clock: () => Date.now(), advisor: (o) => (o.state ? proposal : null) })
  node.setAdvisor(null)
  node.setClock(null)
  return node
}

async function lambda(node: peo.Node, js: peo.JetStream): Promise<string> {
  const handler = peo.lambdaHandler(node, { mesh: js, bucket: 'objects' })
  try {
    const reply: peo.LambdaReply = await handler({ intent: { StartAt: 'A', States: {} } })
    return reply.pointer ? reply.pointer.key : reply.status
  } catch (e) {
    if (e instanceof peo.ObjectFailed) return e.error
    throw e
  }
}

void main()
void advised
void lambda
void mesh
