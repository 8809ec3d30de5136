// js-charge: a Node.js node (domain `commerce`) serving `payment.charge` on a JetStream
// mesh. Usage: node js_node.js NATS_URL KEY_FILE
'use strict'
const fs = require('node:fs')
const peo = require('peo')

const [url, keyFile] = process.argv.slice(2)
const key = peo.SigningKey.fromBytes(Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'hex'))
// The trust store all the nodes share: each key may sign only as its own node.
const trust = JSON.parse(fs.readFileSync(require('node:path').join(__dirname, 'trust.json'), 'utf8'))
const node = new peo.Node({ id: 'js-charge', domain: 'commerce', key, trust })
node.handle('payment.charge', async (order) => {
  await new Promise((resolve) => setTimeout(resolve, 1)) // a call to a payment provider
  return { charged: order.qty * 12.5, currency: 'EUR', language: 'javascript' }
})

const stop = new AbortController()
process.on('SIGTERM', () => stop.abort())
console.log(`js-charge: serving payment.charge on ${url}`)
node
  .serve(url, { signal: stop.signal })
  .then((stats) => console.log('js-charge: stopped', JSON.stringify(stats)))
  .catch((e) => {
    console.error('js-charge:', e.message)
    process.exit(1)
  })
