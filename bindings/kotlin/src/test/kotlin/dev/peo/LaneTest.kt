package dev.peo

import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/** Visits through the lane (Lane.kt, lane.rs): big frames, re-entry, threads, archives. */
class LaneTest {
    private val t0 = 1_700_000_000_000L
    private val twoTasks =
        PeoJson.parse(
            """{"StartAt": "A", "States": {
              "A": {"Type": "Task", "Resource": "size", "ResultPath": "$.a", "Next": "B"},
              "B": {"Type": "Task", "Resource": "size", "ResultPath": "$.b", "End": true}}}""",
        )

    private fun node() = Node("n", "d") { trust = JsonPrimitive("any") }

    @Test
    fun objectsLargerThanTheBufferCrossBothWays() {
        // 200 KB of data (under the data limit): the visit's input and every handler call outgrow the thread's
        // 64 KiB buffer, and the final frame is taken with peo_kt_fetch.
        val big = "x".repeat(200_000)
        val node = node().handler("size") { input, _ -> buildJsonObject { put("n", input.jsonObject["blob"]!!.jsonPrimitive.content.length) } }
        val obj = PeoObject.create(twoTasks, input = buildJsonObject { put("blob", big) }, nowMs = t0)
        val visit = node.visit(obj)
        assertEquals("succeeded", visit.obj.status, visit.obj.data.jsonObject["error"].toString())
        assertTrue(visit.bytes.size > 200_000)
        assertEquals(big, visit.obj.data.jsonObject["blob"]!!.jsonPrimitive.content)
        assertEquals(200_000, visit.obj.data.jsonObject["b"]!!.jsonObject["n"]!!.jsonPrimitive.int)
        assertArrayEquals(visit.bytes, PeoObject.fromBytes(visit.bytes).toBytes())
        // And a small one after it, on the grown buffer.
        assertEquals("succeeded", node.visit(PeoObject.create(twoTasks, input = buildJsonObject { put("blob", "y") })).obj.status)
    }

    @Test
    fun aHandlerMayVisitAnotherObjectOnItsOwnThread() {
        val inner = node().handler("size") { _, _ -> buildJsonObject { put("inner", true) } }
        val outer =
            node().handler("size") { input, _ ->
                // The lane's buffer is this thread's: the outer call is read before, and
                // its answer written after, this nested visit uses it.
                val v = inner.visit(PeoObject.create(twoTasks, input = buildJsonObject { put("blob", "z".repeat(100_000)) }))
                buildJsonObject {
                    put("nested", v.obj.status)
                    put("len", input.jsonObject["blob"]!!.jsonPrimitive.content.length)
                }
            }
        val visit = outer.visit(PeoObject.create(twoTasks, input = buildJsonObject { put("blob", "abc") }))
        val b = visit.obj.data.jsonObject["b"]!!.jsonObject
        assertEquals(listOf("succeeded", 3), listOf(b["nested"]!!.jsonPrimitive.content, b["len"]!!.jsonPrimitive.int))
        assertEquals(listOf("genesis", "execute", "execute", "terminate"), visit.obj.records.map { it.action }.take(1) + visit.records.map { it.action })
    }

    @Test
    fun oneNodeVisitsOnManyThreads() {
        val node = node().handler("size") { input, ctx -> buildJsonObject { put("n", input.jsonObject["blob"]!!.jsonPrimitive.content.length + ctx.attempt) } }
        val pool = Executors.newFixedThreadPool(4)
        val results =
            (0 until 200).map { i ->
                pool.submit<Int> {
                    val v = node.visit(PeoObject.create(twoTasks, input = buildJsonObject { put("blob", "q".repeat(i)) }))
                    v.obj.data.jsonObject["b"]!!.jsonObject["n"]!!.jsonPrimitive.int
                }
            }
        assertEquals((0 until 200).toList(), results.map { it.get(60, TimeUnit.SECONDS) })
        pool.shutdown()
    }

    @Test
    fun aVisitsArchiveAuditsAndProvesWhatItPruned() {
        val loop =
            PeoJson.parse(
                """{"StartAt": "Poll", "Compaction": {"After": 6, "Keep": 2}, "States": {
                  "Poll": {"Type": "Task", "Resource": "poll", "ResultPath": "$.r", "Next": "Done?"},
                  "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.r.done", "BooleanEquals": true, "Next": "End"}], "Default": "Poll"},
                  "End": {"Type": "Succeed"}}}""",
            )
        var calls = 0
        val key = SigningKey.generate()
        val node =
            Node("n", "d") {
                trust = JsonPrimitive("any")
                this.key = key
            }.handler("poll") { _, _ -> buildJsonObject { put("done", ++calls == 12) } }
        val visit = node.visit(PeoObject.create(loop, nowMs = t0, key = key))
        val obj = visit.obj
        assertEquals("succeeded", obj.status)
        assertTrue(visit.archive.isNotEmpty(), "the visit compacted")
        assertTrue(obj.records.first().seq > 0, "pruned records are gone from the object")
        assertTrue(obj.records.any { it.action == "checkpoint" })
        assertTrue(visit.records.all { it.seq >= obj.records.first().seq })
        val offline = obj.verify(listOf(key.publicKey))
        assertTrue(offline.recordsPruned > 0)
        val audited = obj.audit(visit.archive, listOf(key.publicKey))
        assertTrue(audited.recordsChecked > offline.recordsChecked, "the audit checks the pruned records too")
        val proof = obj.provePruned(visit.archive, 0)
        obj.checkPruned(proof)
        val tampered = buildJsonObject { proof.forEach { (k, v) -> put(k, if (k == "record_hash") JsonPrimitive("0".repeat(64)) else v) } }
        assertEquals("proof", assertThrows<IntegrityException> { obj.checkPruned(tampered) }.field)
        assertThrows<IntegrityException> { obj.audit(visit.archive.dropLast(1)) }
    }
}
