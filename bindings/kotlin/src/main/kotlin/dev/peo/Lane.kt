package dev.peo

import com.sun.jna.Native
import dev.peo.ffi.HandlerReply
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * The visit lane: the loop of a visit, through five plain C functions of the native
 * library that take numbers and a direct buffer (JNA direct mapping, about 0.2 µs a
 * call here, where a uniffi call costs 10-40 µs in JNA `Structure` bookkeeping). The
 * protocol is written in `bindings/kotlin/src/lane.rs`; this is its JVM half.
 */
internal object Lane {
    init {
        // The library uniffi's bindings load (the jar's linux-x86-64/ resource), by the
        // same name and override.
        Native.register(Lane::class.java, System.getProperty("uniffi.component.peo_uniffi.libraryOverride") ?: "peo_uniffi")
    }

    @JvmStatic external fun peo_kt_begin(
        lane: Long,
        io: ByteBuffer,
        cap: Long,
        len: Long,
        dataLen: Long,
        now: Long,
    ): Long

    @JvmStatic external fun peo_kt_begin_completions(
        lane: Long,
        io: ByteBuffer,
        cap: Long,
        len: Long,
        now: Long,
    ): Long

    @JvmStatic external fun peo_kt_answer(
        session: Long,
        io: ByteBuffer,
        cap: Long,
        len: Long,
        now: Long,
    ): Long

    @JvmStatic external fun peo_kt_fetch(
        io: ByteBuffer,
        cap: Long,
    ): Long

    @JvmStatic external fun peo_kt_drop(session: Long)

    private const val CALL: Byte = 0
    private const val DONE: Byte = 1
    private const val ABSENT = -1 // u32::MAX
    private const val NODE_CLOCK = Long.MIN_VALUE

    /** Each thread's buffer, grown as frames need. */
    private val buffers = ThreadLocal.withInitial { direct(64 * 1024) }

    private fun direct(size: Int): ByteBuffer = ByteBuffer.allocateDirect(size).order(ByteOrder.LITTLE_ENDIAN)

    /** This thread's buffer, holding at least [size] bytes. */
    private fun buffer(size: Int): ByteBuffer {
        val io = buffers.get()
        if (io.capacity() >= size) return io.clear()
        val bigger = direct(maxOf(size, io.capacity() * 2))
        buffers.set(bigger)
        return bigger
    }

    /** A visit of [data] (and [event], JSON text) on node [lane], answered by [handlers]. */
    fun visit(
        lane: Long,
        data: ByteArray,
        event: String?,
        clock: Clock?,
        handlers: Map<String, Handler>,
    ): Visit {
        val eventBytes = event?.toByteArray() ?: ByteArray(0)
        val io = buffer(data.size + eventBytes.size)
        io.put(data).put(eventBytes)
        val n = peo_kt_begin(lane, io, io.capacity().toLong(), sent(io), data.size.toLong(), now(clock))
        return drive(n, clock, handlers)
    }

    /** The presentation of [children] (final objects) to [parent], their waiting parent. */
    fun completions(
        lane: Long,
        parent: ByteArray,
        children: List<ByteArray>,
        clock: Clock?,
        handlers: Map<String, Handler>,
    ): Visit {
        val io = buffer(8 + parent.size + children.sumOf { 4 + it.size })
        putBlob(io, parent)
        io.putInt(children.size)
        children.forEach { putBlob(io, it) }
        val n = peo_kt_begin_completions(lane, io, io.capacity().toLong(), sent(io), now(clock))
        return drive(n, clock, handlers)
    }

    /** The length of what was written into [io], which goes back to its start (JNA passes a buffer from its position). */
    private fun sent(io: ByteBuffer): Long {
        val n = io.position().toLong()
        io.clear()
        return n
    }

    private fun now(clock: Clock?): Long = clock?.nowMs() ?: NODE_CLOCK

    /** Answers each handler call of the session whose first frame is [first] long, to its end. */
    private fun drive(
        first: Long,
        clock: Clock?,
        handlers: Map<String, Handler>,
    ): Visit {
        var n = first
        while (true) {
            val frame = frame(n)
            when (frame.get()) {
                CALL -> {
                    val session = frame.getLong()
                    var answered = false
                    try {
                        val attempt = frame.getInt()
                        val deadline = frame.getLong().takeIf { it != Long.MIN_VALUE }
                        val capability = text(frame)!!
                        val state = text(frame)!!
                        val key = text(frame)!!
                        val input = text(frame)!!
                        val fn = handlers[capability]
                        val reply =
                            if (fn == null) {
                                HandlerReply(null, null, "peo.NoHandler", "no handler for $capability")
                            } else {
                                runHandler(fn, TaskContext(capability, state, key, attempt, deadline), input)
                            }
                        val failed = reply.error != null
                        val a = if (failed) reply.error else reply.outputJson
                        val b = if (failed) reply.cause else reply.refinementJson
                        val aBytes = a?.toByteArray()
                        val bBytes = b?.toByteArray()
                        val io = buffer(9 + (aBytes?.size ?: 0) + (bBytes?.size ?: 0))
                        io.put(if (failed) 1 else 0)
                        putText(io, aBytes)
                        putText(io, bBytes)
                        answered = true
                        n = peo_kt_answer(session, io, io.capacity().toLong(), sent(io), now(clock))
                    } finally {
                        // A handler that escaped (an Error runHandler let through) ends the visit.
                        if (!answered) peo_kt_drop(session)
                    }
                }
                DONE -> {
                    val disposition = text(frame)!!
                    val appended = frame.getInt()
                    val firstSeq = frame.getInt().toUInt().toLong()
                    val bytes = blob(frame)
                    return Visit(bytes, disposition, appended, firstSeq, blobs(frame), blobs(frame))
                }
                else -> throw error(frame)
            }
        }
    }

    /** The frame the last call gave, [n] bytes, from this thread's buffer. */
    private fun frame(n: Long): ByteBuffer {
        val io = buffers.get()
        if (n <= io.capacity()) return io.clear().limit(n.toInt())
        val bigger = buffer(n.toInt())
        check(peo_kt_fetch(bigger, bigger.capacity().toLong()) == n) { "peo: the lane lost a frame" }
        return bigger.limit(n.toInt())
    }

    private fun error(frame: ByteBuffer): PeoException {
        val code = text(frame)!!
        val kind = text(frame)!!
        val detail = text(frame)!!
        val whole = text(frame)!!
        val record = frame.getLong().takeIf { it >= 0 }?.toInt()
        return PeoException.of(PeoException.Fields(code, kind, detail, whole, record, text(frame), text(frame)))
    }

    private fun putBlob(
        io: ByteBuffer,
        b: ByteArray,
    ) {
        io.putInt(b.size).put(b)
    }

    private fun putText(
        io: ByteBuffer,
        b: ByteArray?,
    ) {
        if (b == null) io.putInt(ABSENT) else putBlob(io, b)
    }

    private fun blob(frame: ByteBuffer): ByteArray = ByteArray(frame.getInt()).also { frame.get(it) }

    private fun text(frame: ByteBuffer): String? {
        val n = frame.getInt()
        if (n == ABSENT) return null
        val b = ByteArray(n).also { frame.get(it) }
        return String(b, Charsets.UTF_8)
    }

    private fun blobs(frame: ByteBuffer): List<ByteArray> = List(frame.getInt()) { blob(frame) }
}
