package io.machvm.api;

/** Quoting of client-supplied text in problem details: bounded in length, control characters replaced. */
final class Texts {
    private static final int MAX_SHOWN = 80;

    private Texts() {
    }

    /** {@code "text"} in JSON-ish quotes, cut at 80 characters. */
    static String quote(CharSequence text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder(Math.min(text.length(), MAX_SHOWN) + 3).append('"');
        int n = Math.min(text.length(), MAX_SHOWN);
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            out.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        if (text.length() > MAX_SHOWN) {
            out.append('…');
        }
        return out.append('"').toString();
    }
}
