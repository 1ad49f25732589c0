package io.machvm.api;

/**
 * An unsigned 64-bit quantity (address, size, offset) as the API reads and writes it: lowercase {@code 0x} hex in
 * responses; a JSON integer, a hex string ({@code "0x4000"}, either case) or a decimal string in requests, over the
 * whole range 0 to 2^64-1. Request bodies bind it with {@link JsonBinding}, path and query parameters with
 * {@link WebConfiguration}'s converter.
 */
public record U64(long value) {
    /** What a request may send for a u64 given as a string (OpenAPI {@code pattern}). */
    public static final String REQUEST_PATTERN = "^(0[xX][0-9a-fA-F]+|[0-9]+)$";
    /** What a response sends for a u64. */
    public static final String RESPONSE_PATTERN = "^0x[0-9a-f]+$";

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** Parses the request forms; a malformed value is a {@code 400} naming {@code field}. */
    public static U64 of(String field, CharSequence text) {
        return new U64(parse(field, text));
    }

    @Override
    public String toString() {
        return format(value);
    }

    /** The response form: lowercase hex with {@code 0x}, e.g. {@code "0x100004000"}. */
    public static String format(long value) {
        if (value == 0) {
            return "0x0";
        }
        int digits = (67 - Long.numberOfLeadingZeros(value)) >>> 2;
        char[] out = new char[digits + 2];
        out[0] = '0';
        out[1] = 'x';
        for (int i = out.length - 1; i >= 2; i--) {
            out[i] = HEX[(int) (value & 0xF)];
            value >>>= 4;
        }
        return new String(out);
    }

    /**
     * Parses a hex string ({@code 0x} or {@code 0X} then at least one hex digit) or a string of decimal digits.
     *
     * @throws ApiProblem {@code 400 KERN_INVALID_ARGUMENT} naming {@code field} for anything else or a value above
     *                    2^64-1
     */
    public static long parse(String field, CharSequence text) {
        int length = text.length();
        if (length > 2 && text.charAt(0) == '0' && (text.charAt(1) == 'x' || text.charAt(1) == 'X')) {
            long value = 0;
            for (int i = 2; i < length; i++) {
                int digit = hexDigit(text.charAt(i));
                if (digit < 0) {
                    throw malformed(field, text);
                }
                if ((value >>> 60) != 0) {
                    throw tooLarge(field, text);
                }
                value = (value << 4) | digit;
            }
            return value;
        }
        return decimal(field, text);
    }

    /** Parses a JSON integer literal as Jackson reports it: decimal digits, maybe a minus sign. */
    static long parseIntegerLiteral(String field, CharSequence literal) {
        if (literal.length() > 0 && literal.charAt(0) == '-') {
            throw ApiProblem.invalidArgument(field + " must not be negative, not " + Texts.quote(literal));
        }
        return decimal(field, literal);
    }

    private static long decimal(String field, CharSequence text) {
        int length = text.length();
        if (length == 0) {
            throw malformed(field, text);
        }
        long value = 0;
        for (int i = 0; i < length; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                throw malformed(field, text);
            }
            if (Long.compareUnsigned(value, 0x1999_9999_9999_9999L) > 0) {
                throw tooLarge(field, text);
            }
            long times10 = value * 10;
            long next = times10 + (c - '0');
            if (Long.compareUnsigned(next, times10) < 0) {
                throw tooLarge(field, text);
            }
            value = next;
        }
        return value;
    }

    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    private static ApiProblem malformed(String field, CharSequence text) {
        return ApiProblem.invalidArgument(field + " must be an unsigned 64-bit integer: a JSON integer, a hex string "
                + "\"0x…\" or a decimal string, not " + Texts.quote(text));
    }

    private static ApiProblem tooLarge(String field, CharSequence text) {
        return ApiProblem.invalidArgument(field + " must be at most 2^64-1 (0xffffffffffffffff), not "
                + Texts.quote(text));
    }
}
