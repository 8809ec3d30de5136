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

    @BeforeAll
    fun start() {
        port = ServerSocket(0).use { it.localPort }
        val dir = Files.createTempDirectory("peo-kotlin-nats").toFile()
        server = ProcessBuilder(natsServer(), "-js", "-a", "127.0.0.1", "-p", "$port", "-sd", dir.path).redirectErrorStream(true)
            .redirectOutput(File(dir, "log")).start()
        val deadline = System.currentTimeMillis() + 10_000
        while (runCatching { Socket("127.0.0.1", port).close() }.isFailure) {
            check(System.currentTimeMillis() < deadline) { "nats-server did not start" }
            Thread.sleep(50)
        }
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
    fun anUnreachableServerIsATransportException() {
        val dead = ServerSocket(0).use { it.localPort }
        val e = assertThrows<TransportException> { JetStream("nats://127.0.0.1:$dead") }
        assertEquals("PEO_TRANSPORT", e.code)
        assertTrue(e.message!!.contains("127.0.0.1:$dead"), e.message)
    }
}
