package dev.peo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonObject;
import org.junit.jupiter.api.Test;

/** The same API from Java: objects, a node with a handler, a visit, typed exceptions. */
class JavaApiTest {
    @Test
    void javaCallsTheSameApi() {
        JsonElement plan = PeoJson.parse(
            "{\"StartAt\": \"Add\", \"States\": {\"Add\": {\"Type\": \"Task\", \"Resource\": \"math.add\", \"End\": true}}}");
        PeoObject obj = PeoObject.create(plan, PeoJson.parse("{\"a\": 2, \"b\": 3}"));
        Node node = new Node("java-1", "local");
        node.setTrust(PeoJson.parse("\"any\""));
        node.handler("math.add", (input, ctx) -> {
            JsonObject in = (JsonObject) input;
            long sum = Long.parseLong(in.get("a").toString()) + Long.parseLong(in.get("b").toString());
            return PeoJson.parse("{\"sum\": " + sum + ", \"attempt\": " + ctx.getAttempt() + "}");
        });
        Visit visit = node.visit(obj);
        assertEquals("terminated", visit.getDisposition().getKind());
        assertEquals("succeeded", visit.getObj().getStatus());
        assertEquals(PeoJson.parse("{\"sum\": 5, \"attempt\": 0}"), visit.getObj().getData());
        assertTrue(visit.getObj().verify().getValid());
        List<Record> records = visit.getRecords();
        assertEquals("execute", records.get(0).getAction());

        DecodeException e = assertThrows(DecodeException.class, () -> PeoObject.fromBytes(new byte[] {1, 2, 3}));
        assertEquals("PEO_DECODE", e.getCode());
        assertTrue(e instanceof PeoException);
        PeoException s = assertThrows(PeoException.class, () -> new Node("n", "d").visit(obj.toBytes()));
        assertEquals("signature", s.getKind());
    }
}
