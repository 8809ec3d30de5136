package dev.peo

import dev.peo.ffi.FfiJetStream
import dev.peo.ffi.StopFlag

/**
 * A connection to a NATS JetStream mesh (docs/distributed.md): submit objects, send
 * events, read them back, and [serve] nodes. A server that cannot be reached is a
 * [TransportException] naming the URL.
 */
class JetStream
    @JvmOverloads
    constructor(
        url: String,
        ackWaitSeconds: Double? = null,
        name: String? = null,
    ) : AutoCloseable {
        private val ffi: FfiJetStream = ffi { FfiJetStream.connect(url, ackWaitSeconds, name) }

        /** Submits a new object; returns its id. */
        fun submit(bytes: ByteArray): String = ffi { ffi.submit(bytes) }

        fun submit(obj: PeoObject): String = submit(obj.toBytes())

        /** Sends an event to an awaiting object. */
        fun sendEvent(
            objectId: String,
            event: Event,
        ) = ffi { ffi.sendEvent(objectId, event.toJson().toString()) }

        /** The object as the mesh last stored it, or null. */
        fun get(objectId: String): PeoObject? = ffi { ffi.get(objectId) }?.let { PeoObject.fromBytes(it) }

        /** The final objects of those of [ids] that finished within [timeoutSeconds]. */
        fun waitDone(
            ids: List<String>,
            timeoutSeconds: Double,
        ): Map<String, PeoObject> = ffi { ffi.waitDone(ids, timeoutSeconds) }.mapValues { PeoObject.fromBytes(it.value) }

        /** The records compactions pruned from the object, as the mesh keeps them (for [PeoObject.audit]). */
        fun archive(objectId: String): List<ByteArray> = ffi { ffi.archive(objectId) }

        /** Counters: received, visits, forwarded, finished, ... */
        fun stats(): Map<String, Long> =
            (PeoJson.parse(ffi.statsJson()) as kotlinx.serialization.json.JsonObject).mapValues {
                it.value.toString().toLong()
            }

        /**
         * Serves [node] on this mesh until [stop] is set, [idleTimeoutSeconds] pass without
         * work, [maxDeliveries] were handled or, with [giveUpAfterSeconds], the server stays
         * unreachable that long (then a [TransportException]). Blocks the calling thread.
         */
        @JvmOverloads
        fun serve(
            node: Node,
            idleTimeoutSeconds: Double? = null,
            maxDeliveries: Long? = null,
            giveUpAfterSeconds: Double? = null,
            stop: Stop? = null,
        ) = ffi { ffi.serve(node.ffi, idleTimeoutSeconds, maxDeliveries?.toULong(), giveUpAfterSeconds, stop?.flag) }

        override fun close() = ffi.close()

        /** Stops a [serve] loop from another thread. */
        class Stop {
            internal val flag = StopFlag()

            fun stop() = flag.stop()
        }
    }
