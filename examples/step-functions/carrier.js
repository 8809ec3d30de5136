// js-ship: a Node.js node (domain `carrier`) serving `carrier.ship` on the mesh. It has
// no access to AWS. Usage: node carrier.js (reads PEO_NATS_URL)
'use strict'
const peo = require('peo')

const node = new peo.Node({ id: 'js-ship', domain: 'carrier', trust: 'any' })
node.handle('carrier.ship', (order) => {
  if (order.destination === 'atlantis') {
    throw new peo.TaskFailed('Carrier.Unavailable', `no carrier delivers to ${order.destination}`)
  }
  return { ...order, tracking: `TRK-${order.id}`, carrier: 'js-ship' }
})

const stop = new AbortController()
process.on('SIGTERM', () => stop.abort())
console.log('js-ship: serving carrier.ship')
node.serve(process.env.PEO_NATS_URL, { signal: stop.signal }).catch((e) => {
  console.error('js-ship:', e.message)
  process.exit(1)
})
