package dev.peo

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import kotlinx.serialization.json.put
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.security.MessageDigest
import java.util.concurrent.atomic.AtomicLong

/**
 * Every entry of the cross-language test vectors (tests/vectors/manifest.json) through
 * the Kotlin API, with results identical to Rust's: handler calls, error, disposition,
 * records, status, state, data, variables, head, the SHA-256 of the object and of every
 * child, and the final object byte for byte. Fails if an entry was skipped.
 */
class VectorsTest {
    private val vectors = File(System.getProperty("peo.root", "../.."), "tests/vectors")
    private val manifest = PeoJson.parse(File(vectors, "manifest.json").readText()).jsonObject

    private val visitKeys = setOf("target", "complete", "node", "now_ms", "event", "handler_outcomes", "expect")
    private val nodeKeys = setOf("id", "domain", "signing_key", "policy", "capabilities", "trust")
    private val expectKeys =
        listOf("calls", "error", "disposition", "appended", "records", "status", "state", "data", "variables", "head", "object_sha256", "children")

    private fun sha256(b: ByteArray) = MessageDigest.getInstance("SHA-256").digest(b).joinToString("") { "%02x".format(it) }

    private fun hex(s: String) = ByteArray(s.length / 2) { s.substring(2 * it, 2 * it + 2).toInt(16).toByte() }

    private fun text(e: JsonElement?): String? = (e as? JsonPrimitive)?.takeIf { it !is JsonNull }?.content

    private fun buildNode(
        spec: JsonObject,
        nowMs: Long,
        outcomes: JsonArray,
        calls: MutableList<JsonElement>,
    ): Node {
        for (k in spec.keys) assertTrue(k in nodeKeys, "the node has $k, which this runner does not handle")
        val clock = AtomicLong(nowMs)
        val queue = ArrayDeque(outcomes.map { it.jsonObject })
        val node =
            Node(spec["id"]!!.jsonPrimitive.content, spec["domain"]!!.jsonPrimitive.content) {
                this.clock = Clock { clock.get() }
                text(spec["signing_key"])?.let { key = SigningKey.fromBytes(hex(it)) }
                text(spec["policy"])?.let { policy = it }
                spec["trust"]?.takeIf { it !is JsonNull }?.let { trust = it }
            }
        val handler =
            Handler { input, ctx ->
                calls.add(
                    buildJsonObject {
                        put("attempt", ctx.attempt)
                        put("capability", ctx.capability)
                        put("deadline_ms", ctx.deadlineMs?.let { JsonPrimitive(it) } ?: JsonNull)
                        put("idempotency_key", ctx.idempotencyKey)
                        put("input", input)
                        put("state", ctx.state)
                    },
                )
                val o = queue.removeFirstOrNull() ?: JsonObject(mapOf("error" to JsonPrimitive("Vector.NoOutcome")))
                o["took_ms"]?.let { clock.addAndGet(it.jsonPrimitive.long) }
                o["output"] ?: throw TaskFailed(o["error"]!!.jsonPrimitive.content, text(o["cause"]))
            }
        for (cap in spec["capabilities"]!!.jsonArray) node.handler(cap.jsonPrimitive.content, handler)
        return node
    }

    private fun event(e: JsonElement?): Event? {
        val o = e as? JsonObject ?: return null
        return Event(
            o["name"]!!.jsonPrimitive.content,
            payload = o["payload"],
            error = text(o["error"]),
            cause = text(o["cause"]),
            heartbeat = text(o["heartbeat"]) == "true",
        )
    }

    private fun runVisit(
        name: String,
        index: Int,
        v: JsonObject,
        objects: MutableMap<String, ByteArray>,
    ) {
        for (k in v.keys) assertTrue(k in visitKeys, "$name visit $index: $k is not handled")
        val expect = v["expect"]!!.jsonObject
        for (k in expect.keys) assertTrue(k in expectKeys, "$name visit $index: unknown expectation $k")
        val calls = mutableListOf<JsonElement>()
        val node = buildNode(v["node"]!!.jsonObject, v["now_ms"]!!.jsonPrimitive.long, v["handler_outcomes"]!!.jsonArray, calls)
        val target = text(v["target"]) ?: "parent"
        val complete = v["complete"]?.takeIf { it !is JsonNull }
        val visit =
            try {
                when (complete) {
                    null -> node.visit(objects[target]!!, event(v["event"]))
                    is JsonArray -> node.completeAll(objects[target]!!, complete.map { objects[it.jsonPrimitive.content]!! })
                    else -> node.complete(objects[target]!!, objects[complete.jsonPrimitive.content]!!)
                }
            } catch (e: PeoException) {
                val error =
                    buildJsonObject {
                        put("code", e.code)
                        put("field", e.field?.let { JsonPrimitive(it) } ?: JsonNull)
                        put("kind", e.kind)
                        put("record", e.record?.let { JsonPrimitive(it) } ?: JsonNull)
                        put("state", e.state?.let { JsonPrimitive(it) } ?: JsonNull)
                    }
                val got =
                    JsonObject(mapOf("calls" to JsonArray(calls), "error" to error, "disposition" to JsonNull, "appended" to JsonPrimitive(0)))
                assertEquals(expect, got, "$name visit $index")
                return
            }
        val got =
            mapOf(
                "calls" to JsonArray(calls),
                "error" to JsonNull,
                "disposition" to visit.disposition.json,
                "appended" to JsonPrimitive(visit.appended),
                "records" to JsonArray(visit.records.map { it.json }),
                "status" to JsonPrimitive(visit.obj.status),
                "state" to JsonPrimitive(visit.obj.state),
                "data" to visit.obj.data,
                "variables" to visit.obj.variables,
                "head" to JsonPrimitive(visit.obj.head),
                "object_sha256" to JsonPrimitive(sha256(visit.bytes)),
                "children" to JsonArray(visit.children.map { JsonPrimitive(sha256(it)) }),
            )
        for (k in expectKeys) assertEquals(expect[k], got[k], "$name visit $index: $k differs")
        objects[target] = visit.bytes
        for (c in visit.children) objects["child:${objects.keys.count { it.startsWith("child:") }}"] = c
    }

    @Test
    fun everyVectorReplaysByteIdentically() {
        assertEquals(1, manifest["format"]!!.jsonPrimitive.int)
        val all = manifest["vectors"]!!.jsonArray.map { it.jsonObject }
        val listed = all.sumOf { it["visits"]!!.jsonArray.size }
        var ran = 0
        var proofs = 0
        for (vector in all) {
            val name = vector["name"]!!.jsonPrimitive.content
            val objects = mutableMapOf("parent" to File(vectors, vector["object"]!!.jsonPrimitive.content).readBytes())
            for ((key, file) in vector["extra_objects"]!!.jsonObject) objects[key] = File(vectors, file.jsonPrimitive.content).readBytes()
            for ((i, v) in vector["visits"]!!.jsonArray.withIndex()) {
                runVisit(name, i, v.jsonObject, objects)
                ran++
            }
            val final = File(vectors, vector["final_object"]!!.jsonPrimitive.content).readBytes()
            assertArrayEquals(final, objects["parent"], "$name: the final object differs")
            proofs += checkPrunedProofs(name, vector, final)
        }
        assertEquals(listed, ran, "ran $ran of $listed visits: an entry was skipped")
        assertTrue(ran >= 35)
        assertTrue(proofs > 0, "no pruned-record proof was checked")
    }

    /** Each pruned-record proof is made again from the archive, holds, and fails naming `proof` once tampered. */
    private fun checkPrunedProofs(
        name: String,
        vector: JsonObject,
        final: ByteArray,
    ): Int {
        val proofs = vector["pruned_proofs"]!!.jsonArray.map { it.jsonObject }
        if (proofs.isEmpty()) return 0
        val archive = vector["archive"]!!.jsonArray.map { File(vectors, it.jsonPrimitive.content).readBytes() }
        val obj = PeoObject.fromBytes(final)
        for (p in proofs) {
            val seq = p["seq"]!!.jsonPrimitive.long
            val made = obj.provePruned(archive, seq)
            assertEquals(p["proof"], made, "$name: the proof of record $seq differs")
            obj.checkPruned(made)
            val h = made["record_hash"]!!.jsonPrimitive.content
            val tampered = JsonObject(made + ("record_hash" to JsonPrimitive(h.dropLast(1) + if (h.endsWith("0")) "1" else "0")))
            val e = assertThrows(IntegrityException::class.java) { obj.checkPruned(tampered) }
            assertEquals(listOf("proof", seq.toInt()), listOf(e.field, e.record))
        }
        return proofs.size
    }

    @Test
    fun oneExceptionClassPerErrorKindOfTheEngine() {
        // The manifest lists every ErrorKind of the engine (ErrorKind::ALL); the library says the same.
        val listed = manifest["errors"]!!.jsonArray.map { it.jsonObject["code"]!!.jsonPrimitive.content to it.jsonObject["kind"]!!.jsonPrimitive.content }
        assertEquals(listed, dev.peo.ffi.errorKinds().map { it.code to it.kind })
        val classes = PeoException::class.sealedSubclasses.map { it.simpleName }.toSet()
        assertEquals(listed.size, classes.size)
        for ((code, kind) in listed) {
            val e = PeoException.of(dev.peo.ffi.PeoFfiException.Failed(code, kind, "m", "t", 3u, "S", "F"))
            assertEquals(listOf(code, kind, 3, "S", "F", "t"), listOf(e.code, e.kind, e.record, e.state, e.field, e.message))
            val expected = kind.split('_').joinToString("") { it.replaceFirstChar(Char::uppercase) } + "Exception"
            assertEquals(expected, e.javaClass.simpleName)
            assertTrue(e.javaClass.simpleName in classes)
        }
    }
}
