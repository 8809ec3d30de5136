'use strict'
// AWS Step Functions (docs/step-functions.md): a Lambda handler that visits objects at a
// node. The rules are peo_runtime::stepfunctions (through the addon); this makes the S3
// calls, with @aws-sdk/client-s3 (npm install @aws-sdk/client-s3). peo.js exports it,
// giving this module its classes (a function of them, so that neither requires the other
// half-loaded).

module.exports = function stepFunctions({ native, call, describe, PeoError, PeoObject, Node, JetStream }) {
  /**
   * Thrown by a Lambda handler for an object that ended without succeeding: its `name` is
   * the object's error name (`Order.Invalid`, `States.Timeout`, `peo.Policy`), which Lambda
   * reports as the `errorType` the workflow's Retry and Catch match.
   */
  class ObjectFailed extends Error {
    constructor(error, cause) {
      super(cause)
      this.name = error
      this.error = error
    }
  }

  function s3Module() {
    try {
      return require('@aws-sdk/client-s3')
    } catch (e) {
      throw new TypeError('objects past 256 KiB go by S3: npm install @aws-sdk/client-s3, or pass { s3 }', { cause: e })
    }
  }

  /**
   * A Lambda handler (`async (event, context) => reply`) that visits objects at `node`: the
   * same payloads and replies as Python's `peo.aws_lambda.handler`. `mesh`: where an object
   * created with a `taskToken` goes after the visit; `bucket` (default `$PEO_S3_BUCKET`) and
   * `s3` (an S3Client; default `new S3Client({})`): where objects past 256 KiB go.
   */
  function lambdaHandler(node, { mesh, bucket, s3 } = {}) {
    if (!(node instanceof Node)) throw new TypeError(`node must be a peo Node, not ${describe(node)}`)
    if (mesh !== undefined && mesh !== null && !(mesh instanceof JetStream)) {
      throw new TypeError(`mesh must be a peo JetStream, not ${describe(mesh)}`)
    }
    let client = s3 ?? null
    const s3Client = () => {
      if (client === null) client = new (s3Module().S3Client)({})
      return client
    }
    return async function handler(event) {
      const payload = typeof event === 'string' ? event : JSON.stringify(event)
      const req = call(() => native.sfnRequest(payload))
      let visit
      try {
        let obj
        if (req.kind === 'object') {
          obj = PeoObject.fromBytes(req.bytes)
        } else if (req.kind === 'pointer') {
          const p = JSON.parse(req.pointer)
          const got = await s3Client().send(new (s3Module().GetObjectCommand)({ Bucket: p.bucket, Key: p.key }))
          const body = Buffer.from(await got.Body.transformToByteArray())
          obj = new PeoObject(call(() => native.sfnPointed(req.pointer, body)))
        } else {
          obj = new PeoObject(
            // Signed by the node's key: whoever trusts the node trusts its genesis.
            call(() =>
              native.NativeObject.create(req.intent, req.context ?? null, req.input ?? '{}', req.id ?? null, null, node._seed ?? null),
            ),
          )
        }
        if (req.token != null && !mesh) throw new TypeError('a payload with a taskToken needs lambdaHandler(node, { mesh })')
        visit = await node.visit(obj)
        if (req.token != null) await mesh.submit(visit.bytes)
      } catch (e) {
        if (e instanceof PeoError) throw new ObjectFailed(native.sfnErrorName(e.code), e.message)
        throw e
      }
      const where = bucket ?? process.env.PEO_S3_BUCKET ?? null
      const reply = JSON.parse(call(() => native.sfnReply(visit.object._native, JSON.stringify(visit.disposition), where)))
      if (reply.upload) {
        const { bucket: Bucket, key: Key } = reply.upload
        await s3Client().send(new (s3Module().PutObjectCommand)({ Bucket, Key, Body: visit.bytes }))
      }
      if (reply.failure) throw new ObjectFailed(reply.failure.error, reply.failure.cause)
      return reply.body
    }
  }

  return { ObjectFailed, lambdaHandler }
}
