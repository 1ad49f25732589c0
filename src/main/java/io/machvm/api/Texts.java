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
        return '"' + truncate(text, MAX_SHOWN) + '"';
    }

    /** The text cut at {@code max} characters (marked with …), control characters replaced by {@code ?}. */
    static String truncate(CharSequence text, int max) {
        StringBuilder out = new StringBuilder(Math.min(text.length(), max) + 1);
        int n = Math.min(text.length(), max);
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            out.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        if (text.length() > max) {
            out.append('…');
        }
        return out.toString();
    }
}
