// kt-notify: a Kotlin node (domain `commerce`) serving `customer.notify` and
// `customer.confirm` on a JetStream mesh.
// Usage: mvn -q compile exec:java -Dexec.args="NATS_URL KEY_FILE TRUST_FILE"
import dev.peo.JetStream
import dev.peo.Node
import dev.peo.PeoJson
import dev.peo.SigningKey
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import java.io.File

fun main(args: Array<String>) {
    val (url, keyFile, trustFile) = args
    val key = SigningKey.fromBytes(File(keyFile).readText().trim().chunked(2).map { it.toInt(16).toByte() }.toByteArray())
    // The trust store all the nodes share: each key may sign only as its own node.
    val node =
        Node("kt-notify", "commerce") {
            this.key = key
            trust = PeoJson.parse(File(trustFile).readText())
        }.handler("customer.notify") { order, _ ->
            buildJsonObject {
                put("notified", "customer-${order.jsonObject["order"]!!.jsonPrimitive.content}")
                put("language", "kotlin")
            }
        }.handler("customer.confirm") { order, ctx ->
            buildJsonObject {
                put("confirmed", "order-${order.jsonObject["order"]!!.jsonPrimitive.content}")
                put("attempt", ctx.idempotencyKey)
                put("language", "kotlin")
            }
        }
    val stop = JetStream.Stop()
    JetStream(url, name = "peo kotlin node kt-notify").use { js ->
        // SIGTERM: finish the delivery in hand, then print the counters.
        val done = java.util.concurrent.CountDownLatch(1)
        Runtime.getRuntime().addShutdownHook(
            Thread {
                stop.stop()
                done.await()
            },
        )
        println("kt-notify: serving customer.notify, customer.confirm on $url")
        try {
            js.serve(node, stop = stop)
            println("kt-notify: stopped ${js.stats()}")
        } finally {
            done.countDown()
        }
    }
}
