package dev.peo

import kotlinx.coroutines.yield
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import kotlin.random.Random

/** The Kotlin API end to end: objects, keys, a two-node visit with Kotlin handlers and Cedar policies, bad input. */
class ApiTest {
    private val t0 = 1_700_000_000_000L
    private val plan =
        PeoJson.parse(
            """{"StartAt": "Reserve", "States": {
              "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Charge"},
              "Charge": {"Type": "Task", "Resource": "payment.charge", "ResultPath": "$.payment", "End": true}}}""",
        )

    private fun order(key: SigningKey? = null) =
        PeoObject.create(
            plan,
            input = PeoJson.parse("""{"order": 7, "sku": "A1", "qty": 2}"""),
            context = PeoJson.parse("""{"labels": ["orders"]}"""),
            nowMs = t0,
            key = key,
        )

    @Test
    fun objectsRoundTripAndShowTheirParts() {
        val key = SigningKey.generate()
        val obj = order(key)
        val bytes = obj.toBytes()
        assertEquals("PEO1", String(bytes.copyOfRange(4, 8)))
        val again = PeoObject.fromBytes(bytes)
        assertArrayEquals(bytes, again.toBytes())
        assertEquals(listOf("running", "Reserve", 32, 64), listOf(obj.status, obj.state, obj.id.length, obj.head.length))
        assertEquals(PeoJson.parse("""{"order": 7, "sku": "A1", "qty": 2}"""), obj.data)
        val genesis = obj.records.single()
        assertEquals(listOf("genesis", "Reserve", 0L), listOf(genesis.action, genesis.nextState, genesis.seq))
        assertEquals(key.publicKey.joinToString("") { "%02x".format(it) }, genesis.node.key)
        val report = obj.verify(listOf(key.publicKey))
        assertTrue(report.valid)
        assertEquals(1L, report.signaturesChecked)
        val seed = ByteArray(32) { it.toByte() }
        assertArrayEquals(seed, SigningKey.fromBytes(seed).toBytes())
    }

    @Test
    fun twoNodesWithKotlinHandlersAndCedarPolicies() {
        val (shop, whKey, bankKey) = List(3) { SigningKey.generate() }
        val trusted = listOf(shop, whKey, bankKey).map { it.publicKey }
        var seenKey = ""
        val warehouse =
            Node("warehouse-1", "eu") {
                key = whKey
                trustedKeys = trusted
                facts = buildJsonObject { put("site", "lyon") }
                policy = """permit(principal, action, resource) when { context.labels.contains("orders") };"""
            }.handler("inventory.reserve") { input, ctx ->
                seenKey = ctx.idempotencyKey
                ctx.refine(buildJsonObject { put("Objective", "ship order 7 today") })
                buildJsonObject { put("held", input.jsonObject["qty"]!!) }
            }
        val bank =
            Node("bank-1", "us") {
                key = bankKey
                trustedKeys = trusted
                policy = "forbid(principal, action == Peo::Action::\"execute\", resource) when { context.node_domain == \"eu\" };\n" +
                    "permit(principal, action, resource);"
            }.suspendHandler("payment.charge") { input, _ ->
                yield()
                buildJsonObject {
                    put("charged", 30)
                    put("held", input.jsonObject["reservation"]!!.jsonObject["held"]!!)
                }
            }
        val obj = order(shop)
        val first = warehouse.visit(obj)
        assertEquals(listOf("delegate", "payment.charge"), listOf(first.disposition.kind, first.disposition.capability))
        assertEquals("${obj.id}/Reserve/1/0", seenKey)
        assertEquals(listOf("execute", "mutate", "delegate"), first.records.map { it.action })
        assertEquals("allow", first.records[0].policy!!["decision"]!!.jsonPrimitive.content)
        val second = bank.visit(first.bytes)
        assertEquals(listOf("terminated", "succeeded"), listOf(second.disposition.kind, second.disposition.status))
        assertEquals(PeoJson.parse("""{"charged": 30, "held": 2}"""), second.disposition.output!!.jsonObject["payment"])
        val done = second.obj
        assertEquals("ship order 7 today", done.toJson()["intent"]!!.jsonObject["objective"]!!.jsonPrimitive.content)
        assertTrue(done.verify(trusted).valid)
        val e = assertThrows<SignatureException> { done.verify(listOf(shop.publicKey)) }
        assertEquals("PEO_SIGNATURE", e.code)
        assertNotNull(e.record)
        // The warehouse does not trust a stranger's objects; a terminated object refuses a visit.
        assertThrows<SignatureException> { warehouse.visit(order(SigningKey.generate())) }
        assertEquals("terminated", assertThrows<TerminatedException> { bank.visit(done) }.kind)
    }

    @Test
    fun handlerFailuresAreRecordedNotThrown() {
        val caught =
            PeoJson.parse(
                """{"StartAt": "Call", "States": {
                  "Call": {"Type": "Task", "Resource": "x.call", "End": true,
                           "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]},
                  "Caught": {"Type": "Pass", "End": true}}}""",
            )
        val cases =
            listOf<Pair<Handler, String>>(
                Handler { _, _ -> throw TaskFailed("Stock.Out", "sku A1") } to "Stock.Out",
                Handler { _, _ -> throw IllegalStateException("broken") } to "IllegalStateException",
                Handler { _, _ -> throw StackOverflowError() } to "StackOverflowError",
            )
        for ((fn, error) in cases) {
            val node = Node("n", "d") { trust = JsonPrimitive("any") }.handler("x.call", fn)
            val visit = node.visit(PeoObject.create(caught, nowMs = t0))
            assertEquals("succeeded", visit.obj.status)
            assertEquals(error, visit.obj.data.jsonObject["error"]!!.jsonObject["Error"]!!.jsonPrimitive.content)
        }
    }

    @Test
    fun advisorsAndClocksAreCalled() {
        val seen = mutableListOf<String>()
        var now = t0
        val node =
            Node("n", "d") {
                trust = JsonPrimitive("any")
                clock = Clock { now++ }
                advisor =
                    Advisor { obj ->
                        seen.add(obj.state)
                        if (obj.state == "Reserve") Proposal("execute", target = "inventory.reserve", confidence = 0.9, rationale = "in stock") else null
                    }
            }.handler("inventory.reserve") { _, _ -> buildJsonObject { put("held", 1) } }
        val visit = node.visit(order())
        assertEquals("Reserve", seen.first())
        val advice = visit.records[0].advice!!
        assertEquals(listOf("true", "in stock"), listOf(advice["followed"]!!.jsonPrimitive.content, advice["rationale"]!!.jsonPrimitive.content))
        assertTrue(now > t0, "the clock was read")
        assertTrue(visit.records[0].timeMs in t0 until now, "records carry the node's clock")
    }

    @Test
    fun badInputGetsTypedExceptionsAndNeverCrashes() {
        val random = Random(7)
        repeat(200) {
            val bytes = random.nextBytes(random.nextInt(0, 400))
            assertThrows<PeoException> { PeoObject.fromBytes(bytes) }
        }
        val good = order().toBytes()
        repeat(200) {
            val bytes = good.copyOf()
            bytes[random.nextInt(bytes.size)] = random.nextInt().toByte()
            try {
                PeoObject.fromBytes(bytes).verify()
            } catch (e: PeoException) {
                assertTrue(e.code.startsWith("PEO_"))
            }
        }
        assertEquals("PEO_DECODE", assertThrows<DecodeException> { PeoObject.fromBytes(good.copyOf(good.size / 2)) }.code)
        assertThrows<InvalidArgumentException> { SigningKey.fromBytes(ByteArray(5)) }
        assertThrows<InvalidArgumentException> { PeoJson.parse("{not json") }
        assertThrows<InvalidIntentException> { PeoObject.create(PeoJson.parse("""{"StartAt": "X", "States": {}}""")) }
        assertThrows<InvalidArgumentException> { Node("n", "d") { policy = "permit(principal, action, resource" } }
        assertThrows<InvalidArgumentException> { Node("", "d") }
        assertThrows<InvalidArgumentException> { Node("n", "d") { policy = null } }
        assertThrows<InvalidArgumentException> { Node("n", "d").visit(good, Event("")) }
        val e = assertThrows<SignatureException> { Node("n", "d").visit(good) }
        assertEquals(listOf("PEO_SIGNATURE", "signature"), listOf(e.code, e.kind))
        assertTrue(e.message!!.contains("signature error"))
    }

    @Test
    fun eventsResumeAwaitingObjects() {
        val awaiting =
            PeoJson.parse(
                """{"StartAt": "Approve", "States": {"Approve": {"Type": "Pass", "ResultPath": "$.approval", "End": true}},
                    "Await": {"Approve": {"Event": "approval"}}}""",
            )
        val node = Node("n", "d") { trust = JsonPrimitive("any") }
        val parked = node.visit(PeoObject.create(awaiting, nowMs = t0))
        assertEquals(listOf("dormant", "approval"), listOf(parked.disposition.kind, parked.disposition.event))
        val done = node.visit(parked.bytes, Event.success("approval", buildJsonObject { put("by", "ana") }))
        assertEquals("succeeded", done.obj.status)
        assertEquals(JsonObject(mapOf("by" to JsonPrimitive("ana"))), done.obj.data.jsonObject["approval"])
        assertEquals(1, done.records.count { it.action == "reentry" })
    }

    @Test
    fun anAwaitNamingSignersTakesOnlyEventsTheySignedForThisObject() {
        val ops = SigningKey.generate()
        val eve = SigningKey.generate()
        val hex = ops.publicKey.joinToString("") { "%02x".format(it) }
        val plan =
            PeoJson.parse(
                """{"StartAt": "Approve", "States": {"Approve": {"Type": "Pass", "ResultPath": "$.approval", "End": true}},
                    "Await": {"Approve": {"Event": "approved", "Signers": ["$hex"]}}}""",
            )
        val node = Node("n", "d") { trust = JsonPrimitive("any") }
        val parked = node.visit(PeoObject.create(plan))
        val id = parked.obj.id
        val other = PeoObject.create(plan, input = buildJsonObject { put("n", 2) }).id
        val approval = Event.success("approved", buildJsonObject { put("by", "ops") })
        for (forged in listOf(approval, approval.signed(id, eve), approval.signed(other, ops))) {
            assertEquals(0, node.visit(parked.bytes, forged).appended, forged.toString())
        }
        val signed = approval.signed(id, ops)
        assertEquals(hex, signed.signer)
        assertEquals(128, signed.signature!!.length)
        val done = node.visit(parked.bytes, signed)
        assertEquals("succeeded", done.obj.status)
        assertEquals(JsonObject(mapOf("by" to JsonPrimitive("ops"))), done.obj.data.jsonObject["approval"])
        assertThrows<InvalidArgumentException> { approval.signed("not-an-id", ops) }
    }
}
