package dev.peo

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put

// The JSON forms (schema/forms.schema.json) as Kotlin values. Each keeps its JSON form
// as `json`: the same document, key for key, as every other language shows.

/** The node that appended a record. */
data class NodeRef(val id: String, val domain: String, val key: String?)

/** One record of an object's memory. */
data class Record(
    val seq: Long,
    val visit: Long,
    val action: String,
    val state: String,
    val nextState: String,
    val status: String,
    val node: NodeRef,
    val timeMs: Long,
    val policy: JsonObject?,
    val advice: JsonObject?,
    val intentHash: String?,
    val contextHash: String?,
    val dataHash: String?,
    val variablesHash: String?,
    val assigned: JsonObject?,
    val signed: Boolean,
    val body: JsonObject,
    /** The record's JSON form. */
    val json: JsonObject,
) {
    internal companion object {
        fun of(j: JsonObject): Record {
            val n = j.obj("node")!!
            return Record(
                j.long("seq")!!, j.long("visit")!!, j.str("action")!!, j.str("state")!!, j.str("next_state")!!,
                j.str("status")!!, NodeRef(n.str("id")!!, n.str("domain")!!, n.str("key")), j.long("time_ms")!!,
                j.obj("policy"), j.obj("advice"), j.str("intent_hash"), j.str("context_hash"), j.str("data_hash"),
                j.str("variables_hash"), j.obj("assigned"), j.bool("signed"), j.obj("body")!!, j,
            )
        }

        fun list(text: String): List<Record> = (PeoJson.parse(text) as JsonArray).map { of(it as JsonObject) }
    }
}

/** A failure: an ASL error name and its cause. */
data class TaskError(val error: String, val cause: String?)

/**
 * Why a visit ended: `delegate` (send the object to a node with [capability]), `dormant`
 * (park it until [atMs] or [event]) or `terminated` ([status], [output], [error]).
 */
data class Disposition(
    val kind: String,
    val reason: String?,
    val capability: String?,
    val target: String?,
    val atMs: Long?,
    val event: String?,
    val timeoutAtMs: Long?,
    val status: String?,
    val output: JsonElement?,
    val error: TaskError?,
    /** The disposition's JSON form. */
    val json: JsonObject,
) {
    internal companion object {
        fun of(text: String): Disposition {
            val j = PeoJson.parse(text) as JsonObject
            val e = j.obj("error")
            return Disposition(
                j.str("kind")!!, j.str("reason"), j.str("capability"), j.str("target"), j.long("at_ms"), j.str("event"),
                j.long("timeout_at_ms"), j.str("status"), j["output"], e?.let { TaskError(it.str("error")!!, it.str("cause")) }, j,
            )
        }
    }
}

/** What verifying an object checked (the JSON form `VerifyReport`). */
data class VerifyReport(
    val valid: Boolean,
    val recordsChecked: Long,
    val signaturesChecked: Long,
    val unsignedRecords: Long,
    val untrustedRecords: Long,
    val head: String,
    val principal: String?,
    val recordsPruned: Long,
    /** The checkpoint that stands for the pruned records, if any (`seq`, `pruned`, `node`, `attests`, ...). */
    val checkpoint: JsonObject?,
    /** The report's JSON form (`signers`, `domains`, ... as every language shows them). */
    val json: JsonObject,
) {
    internal companion object {
        /** The report of a valid object (the library throws for a broken one). */
        fun of(text: String): VerifyReport {
            val j = PeoJson.parse(text) as JsonObject
            return VerifyReport(
                j.bool("valid"), j.long("records_checked")!!, j.long("signatures_checked")!!, j.long("unsigned_records")!!,
                j.long("untrusted_records")!!, j.str("head")!!, j.str("principal"), j.long("records_pruned")!!,
                j.obj("checkpoint"), j,
            )
        }
    }
}

/** An event for an object awaiting one: a result ([payload]), a failure ([error], [cause]) or a heartbeat. */
data class Event
    @JvmOverloads
    constructor(
        val name: String,
        val payload: JsonElement? = null,
        val error: String? = null,
        val cause: String? = null,
        val heartbeat: Boolean = false,
        /** The public key (64 hex digits) that signed it ([signed]). */
        val signer: String? = null,
        /** Its Ed25519 signature (128 hex digits), for one object. */
        val signature: String? = null,
    ) {
        /** The event's JSON form. */
        fun toJson(): JsonObject =
            buildJsonObject {
                put("name", name)
                when {
                    heartbeat -> put("heartbeat", true)
                    error != null -> {
                        put("error", error)
                        put("cause", cause?.let { JsonPrimitive(it) } ?: JsonNull)
                    }
                    else -> put("payload", payload ?: JsonNull)
                }
                signer?.let { put("signer", it) }
                signature?.let { put("signature", it) }
            }

        /**
         * This event signed by [key] for object [objectId]: an `Await` state whose `Signers`
         * name the key accepts it, for that object only, and only unchanged.
         */
        fun signed(
            objectId: String,
            key: SigningKey,
        ): Event {
            val signed = PeoJson.parse(ffi { key.ffi.signEvent(objectId, toJson().toString()) }) as JsonObject
            return copy(signer = signed["signer"]!!.jsonPrimitive.content, signature = signed["signature"]!!.jsonPrimitive.content)
        }

        companion object {
            @JvmStatic
            @JvmOverloads
            fun success(
                name: String,
                payload: JsonElement? = null,
            ): Event = Event(name, payload = payload)

            @JvmStatic
            @JvmOverloads
            fun failure(
                name: String,
                error: String,
                cause: String? = null,
            ): Event = Event(name, error = error, cause = cause)

            @JvmStatic
            fun beat(name: String): Event = Event(name, heartbeat = true)
        }
    }

/** An advisor's proposal: `execute`, `delegate` or `terminate`; the node checks it against the plan and policy. */
data class Proposal
    @JvmOverloads
    constructor(
        val action: String,
        val target: String? = null,
        val confidence: Double = 1.0,
        val rationale: String = "",
    ) {
        /** The proposal's JSON form. */
        fun toJson(): JsonObject =
            buildJsonObject {
                put("action", action)
                put("target", target?.let { JsonPrimitive(it) } ?: JsonNull)
                put("confidence", confidence)
                put("rationale", rationale)
            }
    }

internal fun JsonElement.asStringOrNull(): String? = (this as? JsonPrimitive)?.takeIf { it !is JsonNull }?.jsonPrimitive?.content
