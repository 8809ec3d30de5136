// peo from Kotlin: an order object, a node with a handler, a visit, a verification.
import dev.peo.Node
import dev.peo.Peo
import dev.peo.PeoJson
import dev.peo.PeoObject
import dev.peo.SigningKey
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put

fun main() {
    println("peo ${Peo.version} (wire format ${Peo.wireFormatVersion})")
    val plan =
        PeoJson.parse(
            """{"StartAt": "Price", "States": {
                 "Price": {"Type": "Task", "Resource": "pricing.quote", "ResultPath": "$.price", "Next": "Done"},
                 "Done": {"Type": "Succeed"}}}""",
        )
    val shop = SigningKey.generate()
    val nodeKey = SigningKey.generate()
    val order = PeoObject.create(plan, input = PeoJson.parse("""{"sku": "A1", "qty": 3}"""), key = shop)
    val node =
        Node("pricing-1", "eu") {
            key = nodeKey
            trustedKeys = listOf(shop.publicKey, nodeKey.publicKey)
        }.handler("pricing.quote") { input, ctx ->
            val qty = input.jsonObject["qty"]!!.jsonPrimitive.int
            println("handler: ${ctx.capability} for ${ctx.idempotencyKey}")
            buildJsonObject { put("total", 12 * qty) }
        }
    val visit = node.visit(order)
    val done = visit.obj
    println("${done.id}: ${done.status}, data ${done.data}")
    println("records: ${done.records.joinToString(" -> ") { it.action }}")
    val report = done.verify(listOf(shop.publicKey, nodeKey.publicKey))
    println("verified: ${report.recordsChecked} records, ${report.signaturesChecked} signatures")
    check(done.status == "succeeded" && report.valid)
}
