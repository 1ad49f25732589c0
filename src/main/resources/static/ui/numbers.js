// u64 quantities: the API sends them as "0x…" strings; here they are BigInt throughout.

export const U64_MAX = (1n << 64n) - 1n;

export const big = (v) => (typeof v === 'bigint' ? v : BigInt(v));
export const hex = (n, width = 0) => '0x' + big(n).toString(16).padStart(width, '0');

/** An address or size typed by a person: 0x hex, decimal, or hex with a trailing h; BigInt or throws. */
export function parseU64(text, what) {
  const s = String(text).trim().replace(/[_\s]/g, '').toLowerCase();
  let n;
  try {
    if (/^0x[0-9a-f]+$/.test(s)) n = BigInt(s);
    else if (/^[0-9]+$/.test(s)) n = BigInt(s);
    else if (/^[0-9a-f]+h$/.test(s)) n = BigInt('0x' + s.slice(0, -1));
    else throw new Error();
  } catch (e) {
    throw new Error(`${what}: "${text}" is not a number (0x hex or decimal)`);
  }
  if (n > U64_MAX) throw new Error(`${what}: ${text} exceeds 64 bits`);
  return n;
}

/** vmmap's sizes: 16K, 1.5M, 4G. */
export function human(bytes) {
  const n = big(bytes);
  const units = ['', 'K', 'M', 'G', 'T', 'P', 'E'];
  let u = 0;
  let whole = n;
  while (whole >= 1024n && u < units.length - 1) { whole /= 1024n; u++; }
  if (u === 0) return n.toString();
  const exact = n % (1n << BigInt(10 * u)) === 0n;
  if (exact || whole >= 100n) return whole.toString() + units[u];
  const tenths = Number((n * 10n) / (1n << BigInt(10 * u))) / 10;
  return tenths.toFixed(1) + units[u];
}
