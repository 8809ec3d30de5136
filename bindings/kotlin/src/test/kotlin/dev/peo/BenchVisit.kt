// Per-visit cost from Kotlin against the same visit in Rust (issue 21's target: the
// engine part within 1.5x of Rust).
//
// The visit: the 10-state object of bindings/c/bench/plan.json (ten Tasks; from bytes:
// decode + verify, ten handler calls, eleven records, encode; unsigned; fixed clock) with
// a Kotlin handler returning {"ok": true}. Method: 2,000 warm-up visits (the JIT), then 15
// rounds of 2,000, the median round; five times, alternating with
// target/release/examples/bench_visit (the same visit in Rust), the medians compared.
// The JVM side of ten handler calls (parsing the input, the handler, writing its output)
// is measured alone and subtracted to give the engine part.
//
//   mvn -q -f bindings/kotlin/pom.xml test-compile exec:java -Dexec.mainClass=dev.peo.BenchVisitKt -Dexec.classpathScope=test
package dev.peo

import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put
import java.io.File

private const val ROUNDS = 15
private const val PER_ROUND = 2000
private const val ALTERNATIONS = 5

private fun medianUs(run: () -> Unit): Double {
    repeat(PER_ROUND) { run() }
    val rounds =
        (1..ROUNDS).map {
            val start = System.nanoTime()
            repeat(PER_ROUND) { run() }
            (System.nanoTime() - start) / 1e3 / PER_ROUND
        }.sorted()
    return rounds[ROUNDS / 2]
}

fun main() {
    val root = File(System.getProperty("peo.root", "../.."))
    val planFile = File(root, "bindings/c/bench/plan.json")
    val t0 = 1_700_000_000_000L
    val data =
        PeoObject.create(PeoJson.parse(planFile.readText()), input = PeoJson.parse("""{"order": 7, "items": ["a", "b"]}"""), nowMs = t0)
            .toBytes()
    val step = Handler { _, _ -> buildJsonObject { put("ok", true) } }
    val node =
        Node("bench", "local") {
            trust = JsonPrimitive("any")
            clock = Clock { t0 }
        }.handler("bench.step", step)
    val rust = File(root, "target/release/examples/bench_visit")
    if (!rust.exists()) {
        println("kotlin: 10-state visit %.1f us".format(medianUs { node.visit(data) }))
        println("(cargo build --release -p peo-c --example bench_visit for the Rust comparison)")
        return
    }
    // The machine's speed drifts by tens of percent over seconds: alternate the two, five
    // times, and compare the medians.
    val totals = mutableListOf<Double>()
    val rusts = mutableListOf<Double>()
    repeat(ALTERNATIONS) {
        totals += medianUs { node.visit(data) }
        val out = ProcessBuilder(rust.path, planFile.path).start().inputStream.bufferedReader().readText().trim()
        rusts += Regex("visit ([0-9.]+) us").find(out)!!.groupValues[1].toDouble()
    }
    // The JVM side of ten handler calls, as the lane makes them (measured warm).
    val input = """{"order": 7, "items": ["a", "b"], "last": {"ok": true}}"""
    val ctx = TaskContext("bench.step", "S0", "0".repeat(32) + "/S0/0", 0, null)
    var sink: JsonElement? = null
    val handlers =
        medianUs {
            repeat(10) { sink = PeoJson.parse(PeoJson.text(step.handle(PeoJson.parse(input), ctx))) }
        }
    check(sink != null)
    val total = totals.sorted()[ALTERNATIONS / 2]
    val rustUs = rusts.sorted()[ALTERNATIONS / 2]
    val engine = total - handlers
    println("kotlin: 10-state visit %.1f us; handler calls %.1f us (10 x %.2f us); engine part %.1f us".format(total, handlers, handlers / 10, engine))
    println("rust: 10-state visit %.1f us (target/release/examples/bench_visit)".format(rustUs))
    println("(medians of %d alternations; kotlin %s us, rust %s us)".format(ALTERNATIONS, totals.joinToString { "%.1f".format(it) }, rusts.joinToString { "%.1f".format(it) }))
    println("engine part from Kotlin: %.2fx Rust (target: within 1.5x); whole visit with Kotlin handlers: %.2fx".format(engine / rustUs, total / rustUs))
}
