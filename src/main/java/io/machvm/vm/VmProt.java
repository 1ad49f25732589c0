package io.machvm.vm;

/** {@code vm_prot_t} bits and their vmmap spelling ({@code "rw-"}). */
public final class VmProt {
    public static final int NONE = 0;
    public static final int READ = 1;
    public static final int WRITE = 2;
    public static final int EXECUTE = 4;
    public static final int ALL = READ | WRITE | EXECUTE;
    /** {@code VM_PROT_COPY}: make the range a private copy and allow WRITE in its maximum. */
    public static final int COPY = 0x10;
    /** The bits {@code vm_protect} accepts. */
    public static final int PROTECT_MASK = ALL | COPY;

    private VmProt() {
    }

    /** The three-letter form of the READ/WRITE/EXECUTE bits, e.g. {@code "r-x"}. */
    public static String format(int prot) {
        return new String(new char[] {
            (prot & READ) != 0 ? 'r' : '-',
            (prot & WRITE) != 0 ? 'w' : '-',
            (prot & EXECUTE) != 0 ? 'x' : '-'});
    }

    /** Parses the three-letter form; returns -1 when it is not exactly {@code [r-][w-][x-]}. */
    public static int parse(String text) {
        if (text == null || text.length() != 3) {
            return -1;
        }
        int prot = 0;
        String letters = "rwx";
        for (int i = 0; i < 3; i++) {
            char c = text.charAt(i);
            if (c == letters.charAt(i)) {
                prot |= 1 << i;
            } else if (c != '-') {
                return -1;
            }
        }
        return prot;
    }
}
