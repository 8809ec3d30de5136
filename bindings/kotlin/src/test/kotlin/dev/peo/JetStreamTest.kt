package dev.peo

import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import kotlinx.serialization.json.put
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.io.File
import java.net.ServerSocket
import java.net.Socket
import java.nio.file.Files
import kotlin.concurrent.thread

/** Kotlin nodes on a real NATS JetStream (`nats-server -js` on loopback): two nodes serve a two-step plan. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JetStreamTest {
    private lateinit var server: Process
    private var port = 0

    private fun natsServer(): String =
        listOf("nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server").firstOrNull { p ->
            runCatching { ProcessBuilder(p, "--version").start().waitFor() == 0 }.getOrDefault(false)
        } ?: error("nats-server is not installed (Debian: apt-get install nats-server; scripts/test installs it)")

    /** A `nats-server -js` on a free port reading [config] (or `PEO_TEST_NATS_CONFIG`): (process, port). */
    private fun startServer(explicit: File? = null): Pair<Process, Int> {
        val port = ServerSocket(0).use { it.localPort }
        val dir = Files.createTempDirectory("peo-kotlin-nats").toFile()
        // PEO_TEST_NATS_CONFIG: a server configuration (TLS, users), run from its folder; the
        // test command sets it, with the NATS_* variables the clients read, for a second run.
        val config = (explicit ?: System.getenv("PEO_TEST_NATS_CONFIG")?.let { File(it) })?.absoluteFile
        val args = (if (config != null) listOf("-c", config.path) else listOf()) +
            listOf("-js", "-a", "127.0.0.1", "-p", "$port", "-sd", dir.path)
        val process = ProcessBuilder(listOf(natsServer()) + args).directory(config?.parentFile).redirectErrorStream(true)
            .redirectOutput(File(dir, "log")).start()
        val deadline = System.currentTimeMillis() + 10_000
        while (runCatching { Socket("127.0.0.1", port).close() }.isFailure) {
            check(System.currentTimeMillis() < deadline) { "nats-server did not start" }
            Thread.sleep(50)
        }
        return process to port
    }

    @BeforeAll
    fun start() {
        startServer().let { (p, n) -> server = p; port = n }
    }

    @AfterAll
    fun stopServer() {
        server.destroy()
    }

    @Test
    fun twoKotlinNodesServeAnOrderToTheEnd() {
        val url = "nats://127.0.0.1:$port"
        val plan =
            PeoJson.parse(
                """{"StartAt": "Price", "States": {
                  "Price": {"Type": "Task", "Resource": "pricing.quote", "ResultPath": "$.price", "Next": "Ship"},
                  "Ship": {"Type": "Task", "Resource": "shipping.book", "ResultPath": "$.shipment", "End": true}}}""",
            )
        val any = PeoJson.parse("\"any\"")
        val pricing =
            Node("pricing-1", "eu") { trust = any }.handler("pricing.quote") { input, _ ->
                buildJsonObject { put("total", 12 * input.jsonObject["qty"]!!.jsonPrimitive.long) }
            }
        val shipping =
            Node("shipping-1", "eu") { trust = any }.handler("shipping.book") { _, _ -> buildJsonObject { put("carrier", "post") } }
        JetStream(url).use { client ->
            val stop = JetStream.Stop()
            val servers =
                listOf(pricing, shipping).map { node ->
                    thread { JetStream(url).use { it.serve(node, stop = stop) } }
                }
            val ids = (1..5).map { client.submit(PeoObject.create(plan, input = PeoJson.parse("""{"qty": $it}"""))) }
            val done = client.waitDone(ids, 30.0)
            stop.stop()
            servers.forEach { it.join(10_000) }
            assertEquals(ids.toSet(), done.keys)
            for ((i, id) in ids.withIndex()) {
                val obj = done.getValue(id)
                assertEquals("succeeded", obj.status)
                assertEquals(12L * (i + 1), obj.data.jsonObject["price"]!!.jsonObject["total"]!!.jsonPrimitive.long)
                assertTrue(obj.verify().valid)
                assertEquals(obj.head, client.get(id)!!.head)
            }
            assertTrue(client.stats().isNotEmpty())
        }
    }

    @Test
    fun workEveryNodeDeclinesIsDeadLetteredAfterMaxDeliver() {
        val url = "nats://127.0.0.1:$port"
        // Its policy forbids running the step: the node declines the object each time it
        // takes it, until maxDeliver deliveries end it in the dead letters.
        val refuser =
            Node("kt-refuser", "eu") {
                trust = PeoJson.parse("\"any\"")
                policy = "forbid(principal, action == Peo::Action::\"execute\", resource);\npermit(principal, action, resource);"
            }.handler("poison.step") { _, _ -> error("the policy forbids running it") }
        val plan = PeoJson.parse("""{"StartAt": "P", "States": {"P": {"Type": "Task", "Resource": "poison.step", "End": true}}}""")
        JetStream(url).use { it.submit(PeoObject.create(plan, buildJsonObject {})) }
        JetStream(url, maxDeliver = 2).use { js ->
            js.serve(refuser, idleTimeoutSeconds = 3.0)
            val stats = js.stats()
            assertEquals(1L, stats["rejected"], stats.toString())
            assertTrue(stats.getValue("received") >= 3, stats.toString())
        }
        val e = assertThrows<InvalidArgumentException> { JetStream(url, maxDeliver = -1) }
        assertTrue(e.message!!.contains("max_deliver must be a number of deliveries, or 0"), e.message)
    }

    @Test
    fun aWindowVisitsDeliveriesAtOnce() {
        val url = "nats://127.0.0.1:$port"
        val plan = PeoJson.parse("""{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "window.step", "End": true}}}""")
        val running = java.util.concurrent.atomic.AtomicInteger()
        val most = java.util.concurrent.atomic.AtomicInteger()
        val node =
            Node("kt-window", "eu") { trust = PeoJson.parse("\"any\"") }.handler("window.step") { _, _ ->
                most.accumulateAndGet(running.incrementAndGet(), ::maxOf)
                Thread.sleep(200)
                running.decrementAndGet()
                buildJsonObject { put("ok", true) }
            }
        JetStream(url).use { js ->
            val e = assertThrows<PeoException> { js.serve(node, window = 0) }
            assertEquals("PEO_INVALID_ARGUMENT", e.code)
            val ids = (1..4).map { js.submit(PeoObject.create(plan, buildJsonObject { put("w", it) })) }
            js.serve(node, maxDeliveries = 4, window = 4)
            assertEquals(ids.toSet(), js.waitDone(ids, 10.0).keys)
            assertTrue(most.get() >= 2, "visits ran at once: ${most.get()}")
        }
    }

    @Test
    fun theServeLoopsRulesHoldFromKotlin() {
        val (own, ownPort) = startServer()
        val url = "nats://127.0.0.1:$ownPort"
        val plan = PeoJson.parse("""{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "rules.step", "End": true}}}""")
        val node = Node("kt-rules", "eu") { trust = PeoJson.parse("\"any\"") }.handler("rules.step") { _, _ -> buildJsonObject { put("ok", true) } }
        try {
            JetStream(url).use { js ->
                val ids = (1..3).map { js.submit(PeoObject.create(plan, buildJsonObject { put("n", it) })) }
                // maxDeliveries: it returns after handling two, and the third waits for the next loop.
                js.serve(node, maxDeliveries = 2)
                assertEquals(2L, js.stats()["received"], js.stats().toString())
                assertEquals(2, ids.count { js.get(it)?.status == "succeeded" })
                js.serve(node, maxDeliveries = 1)
                assertEquals(ids.toSet(), js.waitDone(ids, 10.0).keys)
                // idleTimeoutSeconds: nothing to do, it returns (node.serve(url): a connection of its own).
                val t = System.nanoTime()
                node.serve(url, idleTimeoutSeconds = 0.5)
                assertTrue((System.nanoTime() - t) / 1e9 < 10.0)
                // stop: set from another thread, the loop returns.
                val stop = JetStream.Stop()
                val loop = thread { JetStream(url).use { it.serve(node, stop = stop) } }
                Thread.sleep(300)
                stop.stop()
                loop.join(10_000)
                assertTrue(!loop.isAlive, "stop ended the loop")
            }
            // giveUpAfterSeconds: the server dies under the loop, which gives up with a TransportException.
            JetStream(url).use { js ->
                var failure: Throwable? = null
                val loop = thread { failure = runCatching { js.serve(node, giveUpAfterSeconds = 1.0) }.exceptionOrNull() }
                Thread.sleep(300)
                own.destroyForcibly().waitFor()
                loop.join(30_000)
                assertTrue(!loop.isAlive, "the loop gave up")
                assertTrue(failure is TransportException, failure.toString())
                assertEquals("PEO_TRANSPORT", (failure as TransportException).code)
            }
        } finally {
            own.destroyForcibly()
        }
    }

    @Test
    fun theMeshKeepsWhatCompactionsPruneAndTheAuditUsesIt() {
        val url = "nats://127.0.0.1:$port"
        // Two capabilities on two nodes: every Task is a hop, every hop a visit, so the
        // loop's older visits are folded into checkpoints as it goes.
        val plan =
            PeoJson.parse(
                """{"StartAt": "A", "Compaction": {"After": 6, "Keep": 2}, "States": {
                  "A": {"Type": "Task", "Resource": "loop.a", "ResultPath": "$.a", "Next": "B"},
                  "B": {"Type": "Task", "Resource": "loop.b", "ResultPath": "$.b", "Next": "More?"},
                  "More?": {"Type": "Choice", "Choices": [{"Variable": "$.b.n", "NumericLessThan": 6, "Next": "A"}], "Default": "Done"},
                  "Done": {"Type": "Succeed"}}}""",
            )
        val any = PeoJson.parse("\"any\"")
        val a = Node("kt-loop-a", "eu") { trust = any }.handler("loop.a") { _, _ -> buildJsonObject { put("ok", true) } }
        val b =
            Node("kt-loop-b", "eu") { trust = any }.handler("loop.b") { input, _ ->
                val n = input.jsonObject["b"]?.jsonObject?.get("n")?.jsonPrimitive?.long ?: 0
                buildJsonObject { put("n", n + 1) }
            }
        JetStream(url).use { js ->
            val stop = JetStream.Stop()
            val loops = listOf(a, b).map { node -> thread { node.serve(url, stop = stop) } }
            val id = js.submit(PeoObject.create(plan, buildJsonObject {}))
            val done = js.waitDone(listOf(id), 30.0)
            stop.stop()
            loops.forEach { it.join(10_000) }
            val obj = done.getValue(id)
            assertEquals("succeeded", obj.status)
            val offline = obj.verify()
            assertTrue(offline.recordsPruned > 0, offline.toString())
            val archive = js.archive(id)
            assertTrue(archive.isNotEmpty())
            val audited = obj.audit(archive)
            assertTrue(audited.valid && audited.recordsChecked > offline.recordsChecked, audited.toString())
            obj.checkPruned(obj.provePruned(archive, 0))
        }
    }

    @Test
    fun aPanicInRustIsAnExceptionAndTheJvmGoesOn() {
        val url = "nats://127.0.0.1:$port"
        // A clock that throws: the serve loop reads it in Rust through uniffi's callback,
        // which panics there on an exception it does not expect.
        val broken =
            Node("kt-broken", "eu") {
                trust = PeoJson.parse("\"any\"")
                clock = Clock { throw IllegalStateException("the clock broke") }
            }.handler("panic.step") { _, _ -> buildJsonObject { put("ok", true) } }
        val plan = PeoJson.parse("""{"StartAt": "P", "States": {"P": {"Type": "Task", "Resource": "panic.step", "End": true}}}""")
        JetStream(url).use { js ->
            val id = js.submit(PeoObject.create(plan, buildJsonObject { put("panic", true) }))
            val e = assertThrows<PeoException> { js.serve(broken, idleTimeoutSeconds = 3.0) }
            assertTrue(e is InternalException, e.toString())
            assertTrue(e.message!!.contains("the clock broke"), e.message)
            // The JVM and the library go on: a sound node finishes new work (the panicked
            // delivery was never acknowledged, so the server redelivers it after its ack wait).
            val next = js.submit(PeoObject.create(plan, buildJsonObject { put("panic", false) }))
            val sound = Node("kt-sound", "eu") { trust = PeoJson.parse("\"any\"") }.handler("panic.step") { _, _ -> buildJsonObject { put("ok", true) } }
            js.serve(sound, idleTimeoutSeconds = 2.0)
            assertEquals("succeeded", js.waitDone(listOf(next), 10.0).getValue(next).status)
            assertTrue(js.get(id)!!.status == "running", "the panicked visit recorded nothing")
        }
    }

    @Test
    fun replicasAreFromOneToFiveAndReachTheServer() {
        for (n in listOf(0, 6)) {
            val e = assertThrows<InvalidArgumentException> { JetStream("nats://127.0.0.1:$port", replicas = n) }
            assertEquals("replicas", e.field)
            assertTrue(e.message!!.contains("replicas must be from 1 to 5"), e.message)
        }
        // A server of its own, whose streams do not exist yet: a single server cannot keep
        // three copies of one, and its refusal comes back.
        val (fresh, freshPort) = startServer()
        try {
            val e = assertThrows<TransportException> { JetStream("nats://127.0.0.1:$freshPort", replicas = 3) }
            assertTrue(e.message!!.contains("replicas > 1 not supported"), e.message)
        } finally {
            fresh.destroy()
        }
    }

    @Test
    fun anUnreachableServerIsATransportException() {
        val dead = ServerSocket(0).use { it.localPort }
        val e = assertThrows<TransportException> { JetStream("nats://127.0.0.1:$dead") }
        assertEquals("PEO_TRANSPORT", e.code)
        assertTrue(e.message!!.contains("127.0.0.1:$dead"), e.message)
    }

    @Test
    fun securityReachesTheServerAndItsMistakesAreInvalidArguments() {
        val fixtures = File("../../tests/nats").absoluteFile
        val tls = Security(ca = "$fixtures/ca.pem", cert = "$fixtures/client.pem", key = "$fixtures/client-key.pem")
        val (secure, securePort) = startServer(File(fixtures, "secure.conf"))
        val url = "nats://127.0.0.1:$securePort"
        try {
            JetStream(url, security = tls.copy(user = "node", password = "node-test-password")).use { mesh ->
                val plan = PeoJson.parse("""{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "a.step", "End": true}}}""")
                val id = mesh.submit(PeoObject.create(plan, buildJsonObject { put("n", 1) }))
                assertTrue(mesh.get(id) != null)
            }
            val none = assertThrows<TransportException> { JetStream(url, security = tls) }
            assertTrue(none.message!!.contains("requires credentials and this connection has none"), none.message)
            val noTls = assertThrows<TransportException> { JetStream(url, security = Security(user = "node", password = "x")) }
            assertTrue(noTls.message!!.contains("TLS failed"), noTls.message)
        } finally {
            secure.destroy()
        }
        val missing = assertThrows<InvalidArgumentException> { JetStream(url, security = Security(ca = "/nonexistent/ca.pem")) }
        assertTrue(missing.message!!.contains("security.ca: no such file"), missing.message)
        assertTrue(!Security(password = "secret").toString().contains("secret"))
    }
}
