package dev.oqp.common.config;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

/**
 * The Python tool's lax reading of scalars (pydantic's lax mode), turned into values oqp's binders accept:
 * whole-valued floats and numeric strings as integers, {@code yes}/{@code no}/{@code on}/{@code 1}… as
 * booleans, integer seconds and MiB with oqp's units. A value it cannot read is returned as it was, for
 * the binder to report; text holding a {@code ${VAR}} reference is kept as text (with its unit appended).
 */
final class Lax {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final Set<String> TRUE = Set.of("true", "yes", "on", "1", "t", "y");
    private static final Set<String> FALSE = Set.of("false", "no", "off", "0", "f", "n");

    /** An integer: YAML ints, whole floats ({@code 11435.0}), numeric strings, booleans (1 or 0). */
    JsonNode integer(JsonNode n) {
        if (n == null || n.isIntegralNumber() || n.isNull()) {
            return n;
        }
        if (n.isBoolean()) {
            return NODES.numberNode(n.booleanValue() ? 1 : 0);
        }
        if (n.isNumber()) {
            BigDecimal d = n.decimalValue();
            return d.stripTrailingZeros().scale() <= 0 ? NODES.numberNode(d.toBigIntegerExact()) : n;
        }
        if (n.isTextual() && n.textValue().trim().matches("[+-]?\\d+")) {
            return NODES.numberNode(new BigDecimal(n.textValue().trim()).toBigIntegerExact());
        }
        return n;
    }

    /** A boolean: YAML booleans, the ints 0 and 1, and the strings pydantic reads as one, in any case. */
    JsonNode bool(JsonNode n) {
        if (n == null || n.isBoolean() || n.isNull()) {
            return n;
        }
        if (n.isIntegralNumber() && (n.asLong() == 0 || n.asLong() == 1)) {
            return NODES.booleanNode(n.asLong() == 1);
        }
        if (n.isTextual()) {
            String t = n.textValue().trim().toLowerCase(Locale.ROOT);
            if (TRUE.contains(t)) {
                return NODES.booleanNode(true);
            }
            if (FALSE.contains(t)) {
                return NODES.booleanNode(false);
            }
        }
        return n;
    }

    /** Integer seconds as an oqp duration ({@code 30} → {@code 30s}). */
    JsonNode seconds(JsonNode n) {
        return withUnit(n, "s");
    }

    /** Integer MiB as an oqp size ({@code 50} → {@code 50MiB}). */
    JsonNode mebibytes(JsonNode n) {
        return withUnit(n, "MiB");
    }

    private JsonNode withUnit(JsonNode n, String unit) {
        JsonNode i = integer(n);
        if (i != null && i.isIntegralNumber()) {
            return NODES.textNode(i.bigIntegerValue() + unit);
        }
        if (i != null && i.isTextual() && i.textValue().contains("${")) {
            return NODES.textNode(i.textValue().trim() + unit);
        }
        return i;
    }
}
