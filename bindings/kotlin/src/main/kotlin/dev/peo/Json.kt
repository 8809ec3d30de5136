package dev.peo

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.longOrNull

/** JSON helpers for Java callers and for the forms. */
object PeoJson {
    /** Parses JSON text (an [InvalidArgumentException] when it is not JSON). */
    @JvmStatic
    fun parse(text: String): JsonElement =
        try {
            Json.parseToJsonElement(text)
        } catch (e: IllegalArgumentException) {
            throw PeoException.invalidArgument("not JSON: ${e.message}")
        }

    /** JSON text of a value. */
    @JvmStatic
    fun text(value: JsonElement): String = value.toString()
}

internal fun JsonObject.str(key: String): String? = (this[key] as? JsonPrimitive)?.takeIf { it !is JsonNull }?.contentOrNull

internal fun JsonObject.long(key: String): Long? = (this[key] as? JsonPrimitive)?.longOrNull

internal fun JsonObject.bool(key: String): Boolean = (this[key] as? JsonPrimitive)?.booleanOrNull ?: false

internal fun JsonObject.obj(key: String): JsonObject? = this[key] as? JsonObject
