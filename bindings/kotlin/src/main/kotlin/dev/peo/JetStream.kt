package dev.peo

import dev.peo.ffi.FfiJetStream
import dev.peo.ffi.StopFlag
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put

/**
 * TLS and credentials of a [JetStream] connection (docs/security.md); paths are file
 * names. A connection given none reads the `nats` tool's variables: `NATS_CA`,
 * `NATS_CERT`, `NATS_KEY`, `NATS_CREDS`, `NATS_NKEY`, `NATS_USER`, `NATS_PASSWORD`,
 * `NATS_TOKEN`.
 */
data class Security
    @JvmOverloads
    constructor(
        /** PEM file of the CAs that signed the server's certificate (requires TLS). */
        val ca: String? = null,
        /** PEM file of this client's certificate (with [key]; requires TLS). */
        val cert: String? = null,
        val key: String? = null,
        /** Refuse a server without TLS. */
        val tls: Boolean = false,
        /** A NATS credentials file (user JWT and nkey seed). */
        val creds: String? = null,
        /** A file holding a user nkey seed (`SU...`). */
        val nkey: String? = null,
        val user: String? = null,
        val password: String? = null,
        val token: String? = null,
    ) {
        internal fun toJson(): String =
            buildJsonObject {
                ca?.let { put("ca", it) }
                cert?.let { put("cert", it) }
                key?.let { put("key", it) }
                put("tls", tls)
                creds?.let { put("creds", it) }
                nkey?.let { put("nkey", it) }
                user?.let { put("user", it) }
                password?.let { put("password", it) }
                token?.let { put("token", it) }
            }.toString()

        override fun toString(): String =
            "Security(ca=$ca, cert=$cert, key=$key, tls=$tls, creds=$creds, nkey=$nkey, user=$user, " +
                "password=${password?.let { "<hidden>" }}, token=${token?.let { "<hidden>" }})"
    }

/**
 * A connection to a NATS JetStream mesh (docs/distributed.md): submit objects, send
 * events, read them back, and [serve] nodes. A server that cannot be reached is a
 * [TransportException] naming the URL. [security]: TLS and credentials (null: the
 * `NATS_*` variables); [maxDeliver]: deliveries of one message of work, never settled,
 * before it is dead-lettered to `peo.dead.<id>` (null: 50; 0: no limit); [replicas]: on
 * a JetStream cluster, the servers that keep each of peo's streams and its bucket when
 * this connection creates them (1 to 5, null: 1; 3 survives a server's loss).
 */
class JetStream
    @JvmOverloads
    constructor(
        url: String,
        ackWaitSeconds: Double? = null,
        name: String? = null,
        security: Security? = null,
        maxDeliver: Long? = null,
        replicas: Int? = null,
    ) : AutoCloseable {
        private val ffi: FfiJetStream =
            ffi { FfiJetStream.connect(url, ackWaitSeconds, name, security?.toJson(), maxDeliver, replicas?.toLong()) }

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
         * [window]: deliveries in flight at once; above 1, that many threads each visit one
         * and send it on, so the node's handlers are called from several threads at once.
         */
        @JvmOverloads
        fun serve(
            node: Node,
            idleTimeoutSeconds: Double? = null,
            maxDeliveries: Long? = null,
            giveUpAfterSeconds: Double? = null,
            stop: Stop? = null,
            window: Int = 1,
        ) = ffi {
            ffi.serve(node.ffi, idleTimeoutSeconds, maxDeliveries?.toULong(), giveUpAfterSeconds, stop?.flag, window.coerceAtLeast(0).toUInt())
        }

        override fun close() = ffi.close()

        /** Stops a [serve] loop from another thread. */
        class Stop {
            internal val flag = StopFlag()

            fun stop() = flag.stop()
        }
    }
