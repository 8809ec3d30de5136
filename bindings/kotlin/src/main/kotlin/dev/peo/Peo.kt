package dev.peo

import dev.peo.ffi.FfiAdvisor
import dev.peo.ffi.FfiClock
import dev.peo.ffi.FfiNode
import dev.peo.ffi.FfiObject
import dev.peo.ffi.FfiSigningKey
import dev.peo.ffi.HandlerReply
import dev.peo.ffi.TaskCallInfo
import dev.peo.ffi.TaskHandler
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject

/** The library: its version and wire format version, the same in every face. */
object Peo {
    /** The version, as `peo --version`, Python's `peo.__version__` and C's `peo_version()` give it. */
    @JvmStatic
    val version: String by lazy { dev.peo.ffi.version() }

    /** The wire format version objects are written in. */
    @JvmStatic
    val wireFormatVersion: Int by lazy { dev.peo.ffi.wireFormatVersion().toInt() }
}

/** The handler error of an attempt whose handler returned something that is not JSON. */
const val HANDLER_INVALID_OUTPUT = "peo.HandlerInvalidOutput"

/** An Ed25519 signing key. */
class SigningKey internal constructor(internal val ffi: FfiSigningKey) {
    /** The 32-byte seed. */
    fun toBytes(): ByteArray = ffi.toBytes()

    /** The 32-byte public key. */
    val publicKey: ByteArray get() = ffi.publicKey()

    companion object {
        @JvmStatic
        fun generate(): SigningKey = SigningKey(ffi { FfiSigningKey.generate() })

        @JvmStatic
        fun fromBytes(seed: ByteArray): SigningKey = SigningKey(ffi { FfiSigningKey.fromBytes(seed) })
    }
}

/** A persistent executable object: intent, context, memory and data, as bytes that travel. */
class PeoObject internal constructor(internal val ffi: FfiObject) {
    val id: String get() = ffi.id()

    /** `running`, `dormant`, `succeeded`, `failed`, `expired` or `rejected`. */
    val status: String get() = ffi.status()

    /** The state it is in (empty once terminated). */
    val state: String get() = ffi.state()

    /** The memory head, 64 hex digits. */
    val head: String get() = ffi.head()

    /** The object's data. */
    val data: JsonElement get() = PeoJson.parse(ffi.dataJson())

    /** The workflow variables in force. */
    val variables: JsonObject get() = PeoJson.parse(ffi.variablesJson()) as JsonObject

    /** The records of its memory. */
    val records: List<Record> get() = Record.list(ffi { ffi.recordsJson() })

    fun toBytes(): ByteArray = ffi.toBytes()

    /** Everything, records decoded, as JSON. */
    fun toJson(): JsonObject = PeoJson.parse(ffi.toJson()) as JsonObject

    /**
     * Verifies the object: every record, hash and signature. With [trustedKeys], every
     * visit must be signed by one of them. Throws the error a broken object has.
     */
    @JvmOverloads
    fun verify(trustedKeys: List<ByteArray> = emptyList()): VerifyReport = VerifyReport.of(ffi { ffi.verifyJson(trustedKeys) })

    /** Verifies the whole history restored from [archive] (the segments compactions pruned). */
    @JvmOverloads
    fun audit(
        archive: List<ByteArray>,
        trustedKeys: List<ByteArray> = emptyList(),
    ): VerifyReport = VerifyReport.of(ffi { ffi.auditJson(archive, trustedKeys) })

    /**
     * The proof that pruned record [seq] is part of this object's history, made from
     * [archive]: `{index, record_hash, path}`. Whoever holds the object checks it with
     * [checkPruned].
     */
    fun provePruned(
        archive: List<ByteArray>,
        seq: Long,
    ): JsonObject = PeoJson.parse(ffi { ffi.provePrunedJson(archive, seq) }) as JsonObject

    /** Checks, offline, a pruned-record proof; throws [IntegrityException] naming `proof` when it does not hold. */
    fun checkPruned(proof: JsonObject) = ffi { ffi.checkPruned(proof.toString()) }

    override fun toString(): String = "PeoObject(id=$id, status=$status, state=$state)"

    companion object {
        /** A new object from its plan (ASL), input and context. */
        @JvmStatic
        @JvmOverloads
        fun create(
            plan: JsonElement,
            input: JsonElement = JsonObject(emptyMap()),
            context: JsonElement? = null,
            id: String? = null,
            nowMs: Long? = null,
            key: SigningKey? = null,
        ): PeoObject = PeoObject(ffi { FfiObject.create(plan.toString(), context?.toString(), input.toString(), id, nowMs, key?.ffi) })

        /** Decodes an object from untrusted bytes (check it with [verify]). */
        @JvmStatic
        fun fromBytes(bytes: ByteArray): PeoObject = PeoObject(ffi { FfiObject.fromBytes(bytes) })
    }
}

/** What a handler may want besides its input. */
class TaskContext internal constructor(
    val capability: String,
    val state: String,
    /** `<object id>/<state>/<entry>/<attempt>`: the same wherever this attempt runs. */
    val idempotencyKey: String,
    val attempt: Int,
    val deadlineMs: Long?,
) {
    internal var refinement: JsonObject? = null

    /** Proposes a refinement of the intent (`{Objective?, Class?, Constraints?, States?, Goto?}`) with this output. */
    fun refine(refinement: JsonObject) {
        this.refinement = refinement
    }
}

/** A handler: the state's input in, its output out; throw [TaskFailed] to fail the attempt. */
fun interface Handler {
    fun handle(
        input: JsonElement,
        ctx: TaskContext,
    ): JsonElement
}

/** An advisor: a proposal for the object's next step, or null for none. */
fun interface Advisor {
    fun advise(obj: PeoObject): Proposal?
}

/** A clock: ms since the Unix epoch. */
fun interface Clock {
    fun nowMs(): Long
}

/** The result of a visit. */
class Visit internal constructor(
    /** What to pass on, park or store. */
    val bytes: ByteArray,
    private val dispositionJson: String,
    /** How many records the visit appended. */
    val appended: Int,
    private val firstSeq: Long,
    /** Child objects created by `Parallel` / `Map`. */
    val children: List<ByteArray>,
    /** The records this visit's compactions pruned, as archive segments. */
    val archive: List<ByteArray>,
) {
    /** The object after the visit. */
    val obj: PeoObject by lazy { PeoObject.fromBytes(bytes) }

    /** Why the visit ended. */
    val disposition: Disposition by lazy { Disposition.of(dispositionJson) }

    /** The records this visit appended (those a compaction pruned are in [archive]). */
    val records: List<Record> by lazy { obj.records.filter { it.seq >= firstSeq } }
}

/**
 * A place that evaluates objects: `Node("warehouse", "eu") { policy = cedar; key = k }`,
 * then [handler]s, then [visit]. Settings apply to visits that start afterwards.
 */
class Node
    @JvmOverloads
    constructor(
        id: String,
        domain: String,
        configure: Node.() -> Unit = {},
    ) {
        internal val ffi: FfiNode = ffi { FfiNode(id, domain) }

        /** The node's id in the visit lane. */
        private val laneId: Long = ffi.laneId().toLong()

        val id: String get() = ffi.id()
        val domain: String get() = ffi.domain()

        /** The node's Cedar policies (validated against peo's schema); set once, not removed. */
        var policy: String? = null
            set(value) {
                ffi { ffi.setPolicy(value ?: throw PeoException.invalidArgument("a node's policy cannot be removed")) }
                field = value
            }

        /** Signs the last record of every visit; set, not removed. */
        var key: SigningKey? = null
            set(value) {
                ffi { ffi.setKey((value ?: throw PeoException.invalidArgument("a node's key cannot be removed")).ffi) }
                field = value
            }

        /** The keys whose visits this node accepts (each visit signed by one). */
        var trustedKeys: List<ByteArray> = emptyList()
            set(value) {
                ffi { ffi.setTrustedKeys(value) }
                field = value
            }

        /** The node's trust in its JSON form: `"any"` (tests and demos) or a trust store. */
        var trust: JsonElement? = null
            set(value) {
                ffi { ffi.setTrustJson((value ?: throw PeoException.invalidArgument("give the node a trust, not null")).toString()) }
                field = value
            }

        /** Local facts offered to policy. */
        var facts: JsonObject = JsonObject(emptyMap())
            set(value) {
                ffi { ffi.setFactsJson(value.toString()) }
                field = value
            }

        /** The node's clock; null for the system clock. */
        var clock: Clock? = null
            set(value) {
                ffi {
                    ffi.setClock(
                        value?.let { c ->
                            object : FfiClock {
                                override fun nowMs(): Long = c.nowMs()
                            }
                        },
                    )
                }
                field = value
            }

        /** Proposes each cycle's step; the node checks it against the plan and policy. */
        var advisor: Advisor? = null
            set(value) {
                ffi { ffi.setAdvisor(value?.let { a -> AdvisorBridge(a) }) }
                field = value
            }

        /** At most this many cycles a visit. */
        var maxCycles: Int = 10_000
            set(value) {
                ffi { ffi.setMaxCycles(value.toUInt()) }
                field = value
            }

        /** Compacts objects whose plan says nothing: `after` records, `keep` of them. */
        fun compaction(
            after: Int,
            keep: Int,
        ): Node = apply { ffi { ffi.setCompaction(after.toUInt(), keep.toUInt()) } }

        private val handlers = java.util.concurrent.ConcurrentHashMap<String, Handler>()

        /** Registers the handler of [capability] (a Task state's `Resource`). */
        fun handler(
            capability: String,
            fn: Handler,
        ): Node =
            apply {
                // Visits call it from here (a session); JetStream's serve loop through a callback.
                ffi { ffi.addHandler(capability, HandlerBridge(fn)) }
                handlers[capability] = fn
            }

        /** Registers a `suspend` handler, run to completion on the visiting thread. */
        fun suspendHandler(
            capability: String,
            fn: suspend (JsonElement, TaskContext) -> JsonElement,
        ): Node = handler(capability) { input, ctx -> runBlocking { fn(input, ctx) } }

        /** Verifies the object under this node's trust and runs cycles until it must leave. */
        @JvmOverloads
        fun visit(
            bytes: ByteArray,
            event: Event? = null,
        ): Visit = Lane.visit(laneId, bytes, event?.toJson()?.toString(), clock, handlers)

        @JvmOverloads
        fun visit(
            obj: PeoObject,
            event: Event? = null,
        ): Visit = visit(obj.toBytes(), event)

        /** Presents a fan-out child's final object to its waiting parent. */
        fun complete(
            parent: ByteArray,
            child: ByteArray,
        ): Visit = completeAll(parent, listOf(child))

        /** Presents a batch of children (one record for all). */
        fun completeAll(
            parent: ByteArray,
            children: List<ByteArray>,
        ): Visit = Lane.completions(laneId, parent, children, clock, handlers)

        /**
         * Serves this node on the JetStream mesh at [url] until [stop], [idleTimeoutSeconds],
         * [maxDeliveries] or [giveUpAfterSeconds] ends it (see [JetStream.serve]), on a
         * connection of its own, [window] deliveries in flight. Blocks the calling thread.
         * [replicas]: see [JetStream].
         */
        @JvmOverloads
        fun serve(
            url: String,
            security: Security? = null,
            idleTimeoutSeconds: Double? = null,
            maxDeliveries: Long? = null,
            giveUpAfterSeconds: Double? = null,
            stop: JetStream.Stop? = null,
            window: Int = 1,
            replicas: Int? = null,
        ) = JetStream(url, security = security, replicas = replicas).use {
            it.serve(this, idleTimeoutSeconds, maxDeliveries, giveUpAfterSeconds, stop, window)
        }

        // Last, so that the settings' fields are initialised before `configure` sets them.
        init {
            configure()
        }
    }

/** Calls a handler as the engine takes its result: never throws. */
internal fun runHandler(
    fn: Handler,
    call: TaskCallInfo,
): HandlerReply = runHandler(fn, TaskContext(call.capability, call.state, call.idempotencyKey, call.attempt.toInt(), call.deadlineMs), call.inputJson)

internal fun runHandler(
    fn: Handler,
    ctx: TaskContext,
    inputJson: String,
): HandlerReply =
    try {
        val output = fn.handle(PeoJson.parse(inputJson), ctx)
        HandlerReply(output.toString(), ctx.refinement?.toString(), null, null)
    } catch (e: TaskFailed) {
        HandlerReply(null, null, e.error, e.causeText)
    } catch (e: Throwable) {
        // Anything a handler throws fails its attempt (Retry and Catch see it); the JVM goes on.
        HandlerReply(null, null, e.javaClass.simpleName, e.message ?: e.toString())
    }

private class HandlerBridge(
    private val fn: Handler,
) : TaskHandler {
    override fun call(call: TaskCallInfo): HandlerReply = runHandler(fn, call)
}

private class AdvisorBridge(
    private val fn: Advisor,
) : FfiAdvisor {
    override fun advise(`object`: FfiObject): String? =
        try {
            fn.advise(PeoObject(`object`))?.toJson()?.toString()
        } catch (e: Exception) {
            // An advisor cannot make a visit fail: a broken one gives no advice.
            System.err.println("peo: the advisor failed, no advice this cycle: $e")
            null
        }
}
