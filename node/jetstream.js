'use strict'
// NATS JetStream (docs/distributed.md): the connection and the serve loop over the addon's
// NativeJetStream. peo.js exports it, giving this module what it needs of its own (a
// function of them, so that neither requires the other half-loaded).

module.exports = function jetStream({ native, call, describe, errors, errorFrom, objectBytes, eventJson, PeoError, PeoObject, Node }) {

  /** A NativeReply as its value, or its error thrown as the matching PeoError. */
  function check(reply) {
    if (reply && reply.code) throw errorFrom({ code: reply.code, text: reply.message })
    return reply
  }

  /** A connection to a NATS JetStream mesh (`nats-server -js`); see docs/distributed.md. */
  class JetStream {
    constructor(nativeJetStream) {
      if (!native.NativeJetStream || !(nativeJetStream instanceof native.NativeJetStream)) {
        throw new TypeError('use JetStream.connect(url) to open a connection')
      }
      this._native = nativeJetStream
    }

    /**
     * Connects (off the JS thread); rejects with a TransportError when the server cannot be
     * reached. `security`: TLS and credentials, `{ ca, cert, key, tls, creds, nkey, user,
     * password, token }` (file paths for ca, cert, key, creds and nkey; docs/security.md).
     * Without it, the `nats` tool's variables are read: NATS_CA, NATS_CERT, NATS_KEY,
     * NATS_CREDS, NATS_NKEY, NATS_USER, NATS_PASSWORD, NATS_TOKEN. `maxDeliver`: how often
     * one message of work is delivered without being settled before it is dead-lettered
     * to `peo.dead.<id>` (default 50, 0 for no limit). `replicas`: on a JetStream cluster,
     * how many servers keep each of peo's streams and its bucket when this connection
     * creates them (1 to 5, default 1; 3 survives a server's loss; docs/distributed.md).
     */
    static async connect(url, { ackWait, name, security, maxDeliver, replicas } = {}) {
      if (typeof url !== 'string') throw new TypeError(`url must be a string such as 'nats://127.0.0.1:4222', not ${typeof url}`)
      if (ackWait !== undefined && (typeof ackWait !== 'number' || !(ackWait > 0))) {
        throw new TypeError('ackWait must be a positive number of ms')
      }
      if (typeof native.connect !== 'function') {
        throw new errors.UnsupportedError('this peo addon was built without JetStream (the `jetstream` feature of peo-node)')
      }
      if (security !== undefined && security !== null && (typeof security !== 'object' || Array.isArray(security))) {
        throw new TypeError("security must be an object such as { ca: 'ca.pem' }")
      }
      if (maxDeliver !== undefined && maxDeliver !== null && !Number.isSafeInteger(maxDeliver)) {
        throw new TypeError(`maxDeliver must be an integer, not ${maxDeliver}`)
      }
      if (replicas !== undefined && replicas !== null && !Number.isSafeInteger(replicas)) {
        throw new TypeError(`replicas must be an integer, not ${replicas}`)
      }
      const securityJson = security == null ? null : JSON.stringify(security)
      const r = await call(() => native.connect(url, ackWait ?? null, name ?? null, securityJson, maxDeliver ?? null, replicas ?? null))
      if (r instanceof native.NativeJetStream) return new JetStream(r)
      throw errorFrom({ code: r.code, text: r.message })
    }

    /** Puts a new object into the mesh; resolves to its id. */
    async submit(obj) {
      const data = objectBytes(obj, 'obj')
      return check(await call(() => this._native.submit(data))).text
    }

    /** Sends an event ({name, payload} | {name, error, cause}) to an object; kept until the object awaits it. */
    async sendEvent(objectId, event) {
      if (typeof objectId !== 'string') throw new TypeError('objectId must be a string (hex)')
      const ev = eventJson(event)
      if (ev === null) throw new TypeError('event must be an object such as {name, payload}')
      check(await call(() => this._native.sendEvent(objectId, ev)))
    }

    /** The newest version of an object, or null. */
    async get(objectId) {
      if (typeof objectId !== 'string') throw new TypeError('objectId must be a string (hex)')
      const r = check(await call(() => this._native.get(objectId)))
      return r.buffers ? PeoObject.fromBytes(r.buffers[0]) : null
    }

    /** Waits until every object in `ids` finished or `timeout` ms passed; resolves to {id: Object} of the finished ones. */
    async wait(ids, { timeout = 60000 } = {}) {
      if (!Array.isArray(ids) || !ids.every((i) => typeof i === 'string')) throw new TypeError('ids must be an array of strings')
      const r = check(await call(() => this._native.waitDone(ids, timeout)))
      const out = {}
      r.names.forEach((n, i) => {
        out[n] = PeoObject.fromBytes(r.buffers[i])
      })
      return out
    }

    /**
     * Serves `node` on this connection until `signal` aborts, `idleTimeout` ms pass
     * without work or `maxDeliveries` were handled; resolves to the counters. A server
     * lost while serving is retried (nothing is lost) until it has been gone `giveUpAfter`
     * ms (default: retry forever), then rejects with a TransportError. `window`: the
     * deliveries visited at once (1 to 1024; their handlers' promises overlap). A handler
     * that throws fails its Task (recorded in the object). A visit that throws something
     * other than a PeoError (a broken clock or advisor) gives its delivery back and ends
     * the loop after the others in flight, with that error.
     */
    async serve(node, { signal, idleTimeout, maxDeliveries, giveUpAfter, window = 1 } = {}) {
      if (!(node instanceof Node)) throw new TypeError('node must be a peo Node')
      if (typeof window !== 'number') throw new TypeError(`window must be a number (deliveries in flight at once), not ${describe(window)}`)
      const caps = [...node._handlers.keys()]
      check(
        await call(() => this._native.serveStart(node.id, caps, idleTimeout ?? null, maxDeliveries ?? null, giveUpAfter ?? null, window)),
      )
      const stop = () => this._native.serveStop()
      if (signal?.aborted) stop()
      signal?.addEventListener('abort', stop)
      const inFlight = new Set()
      let failure = null
      const fail = (e) => {
        failure ??= { e }
        stop()
      }
      const handle = async (d) => {
        let visit
        try {
          visit =
            d.kind === 'visit'
              ? await node.visit(d.buffers[0], { event: d.text ? JSON.parse(d.text) : undefined })
              : await node.complete(d.buffers[0], d.buffers[1])
        } catch (e) {
          if (!(e instanceof PeoError)) {
            this._native.abandon(d.handle)
            throw e
          }
          check(await this._native.fail(d.handle, e.code, e.message))
          return
        }
        check(await this._native.settle(d.handle, visit.bytes, visit.children, visit.archive))
      }
      try {
        while (failure === null) {
          while (inFlight.size >= window) await Promise.race(inFlight)
          if (failure !== null) break
          const d = check(await this._native.servePoll())
          if (d.kind === 'stop') break
          if (d.handle == null) continue
          const p = handle(d)
            .catch(fail)
            .finally(() => inFlight.delete(p))
          inFlight.add(p)
        }
      } catch (e) {
        fail(e)
      } finally {
        await Promise.all(inFlight)
        signal?.removeEventListener('abort', stop)
      }
      if (failure !== null) throw failure.e
      return this.stats()
    }

    /** The pruned records the mesh keeps for an object (compaction's archive): audit with `obj.audit(archive, ...)`. */
    async archive(objectId) {
      if (typeof objectId !== 'string') throw new TypeError('objectId must be a string (hex)')
      const r = check(await call(() => this._native.archive(objectId)))
      return r.buffers
    }

    /** Counters: received, visits, forwarded, finished, children, duplicates, reconciled, declined, rejected, deferred, superseded, ignored. */
    stats() {
      return JSON.parse(this._native.statsJson())
    }
  }

  /**
   * Runs the node as a service on a NATS JetStream mesh: it takes the objects for its
   * capabilities (and new objects, due dormant ones, events and fan-out completions),
   * visits them and sends them on, until `signal` aborts (or `idleTimeout` / `maxDeliveries`).
   */
  Node.prototype.serve = async function serve(url, { signal, idleTimeout, maxDeliveries, giveUpAfter, window, ackWait, security, maxDeliver, replicas } = {}) {
    const js = await JetStream.connect(url, { ackWait, name: `peo node ${this.id}`, security, maxDeliver, replicas })
    return js.serve(this, { signal, idleTimeout, maxDeliveries, giveUpAfter, window })
  }

  return { JetStream }
}
