package dev.peo

import dev.peo.ffi.PeoFfiException

/**
 * Every peo error: the same [code], [kind], [record], [state] and [field] as in every
 * other language (the JSON form `Error`, docs/json-forms.md). [message] is the whole
 * text; [detail] the message without its location. One subclass per kind.
 */
sealed class PeoException(f: Fields) : Exception(f.text) {
    /** `PEO_DECODE`, `PEO_SIGNATURE`, ... */
    val code: String = f.code

    /** `decode`, `signature`, ... */
    val kind: String = f.kind

    /** The message without the record, state and field it concerns. */
    val detail: String = f.detail

    /** The memory record the error concerns, if any. */
    val record: Int? = f.record

    /** The intent state (a path such as `Fan/branch 0/Charge`) it concerns, if any. */
    val state: String? = f.state

    /** The field it concerns, if any. */
    val field: String? = f.field

    /** What every [PeoException] carries. */
    class Fields internal constructor(
        val code: String,
        val kind: String,
        val detail: String,
        val text: String,
        val record: Int?,
        val state: String?,
        val field: String?,
    )

    internal companion object {
        fun of(e: PeoFfiException.Failed): PeoException = of(Fields(e.code, e.kind, e.detail, e.text, e.record?.toInt(), e.state, e.field))

        /** The exception of [f]'s kind. */
        fun of(f: Fields): PeoException =
            when (f.kind) {
                "decode" -> DecodeException(f)
                "integrity" -> IntegrityException(f)
                "signature" -> SignatureException(f)
                "unsupported" -> UnsupportedException(f)
                "limit" -> LimitException(f)
                "invalid_intent" -> InvalidIntentException(f)
                "invalid_argument" -> InvalidArgumentException(f)
                "policy" -> PolicyException(f)
                "terminated" -> TerminatedException(f)
                "transport" -> TransportException(f)
                else -> InternalException(f)
            }

        /** An argument this API refuses before the engine sees it. */
        fun invalidArgument(message: String): InvalidArgumentException =
            InvalidArgumentException(
                Fields("PEO_INVALID_ARGUMENT", "invalid_argument", message, "invalid_argument error: $message", null, null, null),
            )
    }
}

/** The bytes are not a peo object (truncated, malformed, not FlatBuffers). */
class DecodeException internal constructor(f: Fields) : PeoException(f)

/** A hash does not match: the object was changed. */
class IntegrityException internal constructor(f: Fields) : PeoException(f)

/** A signature is missing, invalid, or by a key the verifier does not trust. */
class SignatureException internal constructor(f: Fields) : PeoException(f)

/** A format version or feature this build does not support. */
class UnsupportedException internal constructor(f: Fields) : PeoException(f)

/** Over a limit (object size, records, payloads, fan-out width). */
class LimitException internal constructor(f: Fields) : PeoException(f)

/** The plan is not valid ASL (or peo's extensions of it). */
class InvalidIntentException internal constructor(f: Fields) : PeoException(f)

/** An argument is not what the call takes. */
class InvalidArgumentException internal constructor(f: Fields) : PeoException(f)

/** A policy refused, or a policy is not valid. */
class PolicyException internal constructor(f: Fields) : PeoException(f)

/** The object has already terminated. */
class TerminatedException internal constructor(f: Fields) : PeoException(f)

/** A bug in peo: please report it. */
class InternalException internal constructor(f: Fields) : PeoException(f)

/** The NATS server cannot be reached, or refused. */
class TransportException internal constructor(f: Fields) : PeoException(f)

/** Raised by a handler to fail its attempt with an ASL error name (matched by `Retry` and `Catch`). */
class TaskFailed
    @JvmOverloads
    constructor(val error: String, val causeText: String? = null) : Exception(if (causeText == null) error else "$error: $causeText")

/** Calls the native library, its errors as [PeoException]s. */
internal inline fun <T> ffi(block: () -> T): T =
    try {
        block()
    } catch (e: PeoFfiException.Failed) {
        throw PeoException.of(e)
    } catch (e: dev.peo.ffi.InternalException) {
        // A panic in the native library, caught at the boundary by uniffi.
        val text = "internal error: ${e.message}"
        throw InternalException(PeoException.Fields("PEO_INTERNAL", "internal", e.message ?: "", text, null, null, null))
    }
