// An HTTP node with node:http, no framework: POST an object's bytes to /visit, get back
// the disposition (JSON, in the `peo-disposition` header and the body's first line
// when asked for JSON) and the object's new bytes.
//
//   node examples/node/server.js                 # listens on :8080 (PORT to change)
//   node examples/node/server.js --demo          # starts, posts an object to itself, prints, stops
//
//   curl --data-binary @order.peo -H 'content-type: application/octet-stream' localhost:8080/visit -o next.peo -D -
'use strict'
const http = require('node:http')
const peo = require('peo')

const key = peo.SigningKey.generate()
const node = new peo.Node({
  id: 'warehouse-http-1',
  domain: 'logistics',
  key,
  // A demo accepts any object; a real service lists the keys whose work it accepts
  // (`trustedKeys`, or a trust store binding each key to the nodes it may sign as).
  trust: 'any',
  policy: 'permit(principal, action, resource) when { context.labels.contains("orders") };',
})
node.handle('inventory.reserve', (order, ctx) => ({ held: order.qty, bin: 'B-17', key: ctx.idempotencyKey }))
node.handle('shipping.label', async (order) => {
  await new Promise((r) => setTimeout(r, 10)) // a carrier's API would be called here
  return { carrier: 'post', tracking: `PX${String(order.order).padStart(6, '0')}` }
})

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size > 16 * 1024 * 1024) reject(Object.assign(new Error('object too large'), { status: 413 }))
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

const server = http.createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/visit') {
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: 'POST an object to /visit' }))
    return
  }
  try {
    const visit = await node.visit(await readBody(req))
    // The disposition in its canonical (snake_case) form: what a client in any language reads.
    const disposition = peo.canonical('Disposition', visit.disposition)
    const summary = { disposition, appended: visit.appended, id: visit.object.id, head: visit.object.head }
    if ((req.headers.accept || '').includes('application/json')) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ...summary, bytes: visit.bytes.toString('base64') }))
    } else {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'peo-disposition': JSON.stringify(disposition) })
      res.end(visit.bytes)
    }
  } catch (e) {
    const status = e.status || (e instanceof peo.PeoError ? 422 : 500)
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: e.message, code: e.code || null }))
  }
})

async function demo(port) {
  const plan = {
    StartAt: 'Reserve',
    States: {
      Reserve: { Type: 'Task', Resource: 'inventory.reserve', ResultPath: '$.reservation', Next: 'Label' },
      Label: { Type: 'Task', Resource: 'shipping.label', ResultPath: '$.label', Next: 'Charge' },
      Charge: { Type: 'Task', Resource: 'payment.charge', End: true },
    },
  }
  const obj = peo.Object.create(plan, { context: { labels: ['orders'] }, input: { order: 1042, sku: 'tea-1kg', qty: 2 } })
  const post = (body, accept) =>
    fetch(`http://127.0.0.1:${port}/visit`, { method: 'POST', body, headers: { accept, 'content-type': 'application/octet-stream' } })
  const res = await post(obj.toBytes(), 'application/json')
  const answer = await res.json()
  console.log(`POST /visit -> ${res.status}: ${answer.appended} records appended, then ${JSON.stringify(answer.disposition)}`)
  const next = peo.Object.fromBytes(Buffer.from(answer.bytes, 'base64'))
  for (const r of next.memory) console.log(`  #${r.seq} ${r.action.padEnd(9)} ${(r.state || '-').padEnd(8)} by ${r.node.id || 'creator'}`)
  const bad = await post(Buffer.from('not an object'), 'application/json')
  console.log(`POST garbage -> ${bad.status}: ${(await bad.json()).code}`)
  return res.status === 200 && answer.disposition.kind === 'delegate' && bad.status === 422
}

server.listen(process.argv.includes('--demo') ? 0 : Number(process.env.PORT || 8080), '127.0.0.1', async () => {
  const { port } = server.address()
  if (!process.argv.includes('--demo')) {
    console.log(`peo node ${node.id} listening on http://127.0.0.1:${port}/visit`)
    return
  }
  const ok = await demo(port).catch((e) => {
    console.error(e)
    return false
  })
  server.close()
  process.exitCode = ok ? 0 : 1
})
