// The bytes: a 256-byte window read with vm_read, edited in place or through the vm_write form.

import { $, el, showProblem, notice } from './dom.js';
import { hex, U64_MAX } from './numbers.js';
import { state, addr } from './state.js';
import { api, Problem, taskPath } from './api.js';
import { refreshPages } from './pages.js';

const HEX_ROWS = 16;
export const HEX_WINDOW = BigInt(HEX_ROWS * 16);

export function alignWindow(a) {
  let base = a - (a % HEX_WINDOW);
  if (base > U64_MAX - HEX_WINDOW + 1n) base = U64_MAX - HEX_WINDOW + 1n;
  return base;
}

/** Shows the 256-byte window holding address a, with the cursor on the byte at `cursor`. */
export async function showHex(a, cursor) {
  state.hexMoves++;
  state.hexBase = alignWindow(a);
  state.hexCursor = cursor === undefined ? state.hexBase : cursor;
  state.hexPending = '';
  $('goto-address').value = hex(state.hexCursor);
  await reloadHex();
}

/**
 * Reads the window with vm_read. A window never crosses a page (pages are multiples of 256 bytes), so it is
 * readable or not as a whole; an unreadable one shows the problem instead of bytes.
 */
export async function reloadHex() {
  if (state.hexBase === null || !state.taskId) return;
  const base = state.hexBase;
  const box = $('hex-problem');
  try {
    const res = await api('GET', `${taskPath(state.taskId)}/memory/${hex(base)}?size=${HEX_WINDOW}`,
      { accept: 'application/octet-stream' });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (base !== state.hexBase) return;
    state.hexBytes = bytes;
    box.hidden = true;
  } catch (e) {
    if (!(e instanceof Problem) || base !== state.hexBase) throw e;
    state.hexBytes = null;
    showProblem(e, box);
  }
  renderHex();
}

const printable = (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.');

function renderHex() {
  const view = $('hex');
  const base = state.hexBase;
  const bytes = state.hexBytes;
  const rows = [];
  rows.push(el('div', { class: 'hex-row hex-head', role: 'row', 'aria-hidden': 'true' },
    el('span', { class: 'hex-addr', text: 'address' }),
    el('span', { class: 'hex-bytes' }, ...Array.from({ length: 16 }, (_, i) =>
      el('span', { class: 'hb' + (i === 8 ? ' gap' : ''), text: i.toString(16).padStart(2, '0') }))),
    el('span', { class: 'hex-ascii', text: 'ascii' })));
  for (let row = 0; row < HEX_ROWS; row++) {
    const rowAddr = base + BigInt(row * 16);
    const cells = [];
    let ascii = '';
    for (let i = 0; i < 16; i++) {
      const off = row * 16 + i;
      const a = rowAddr + BigInt(i);
      const isCursor = a === state.hexCursor;
      const b = bytes ? bytes[off] : undefined;
      const text = b === undefined ? '··' : (isCursor && state.hexPending ? state.hexPending + '_' : b.toString(16).padStart(2, '0'));
      cells.push(el('span', {
        role: 'gridcell', id: 'hb-' + off, 'data-address': hex(a),
        class: `hb${i === 8 ? ' gap' : ''}${b === undefined ? ' na' : ''}${b === 0 ? ' zero' : ''}` +
          `${isCursor ? ' cursor' : ''}${isCursor && state.hexPending ? ' editing' : ''}`,
        text, onclick: () => { state.hexCursor = a; state.hexPending = ''; renderHex(); $('hex').focus(); },
      }));
      ascii += b === undefined ? ' ' : printable(b);
    }
    rows.push(el('div', { class: 'hex-row', role: 'row' },
      el('span', { class: 'hex-addr', role: 'rowheader', text: addr(rowAddr) }),
      el('span', { class: 'hex-bytes' }, ...cells),
      el('span', { class: 'hex-ascii', 'data-row': String(row), text: ascii })));
  }
  view.replaceChildren(...rows);
  view.tabIndex = 0;
  const cursorOff = state.hexCursor - base;
  if (cursorOff >= 0n && cursorOff < HEX_WINDOW) view.setAttribute('aria-activedescendant', 'hb-' + cursorOff);
  const c = state.hexCursor;
  const cb = bytes && cursorOff >= 0n && cursorOff < HEX_WINDOW ? bytes[Number(cursorOff)] : undefined;
  $('hex-status').textContent = `${hex(c)}` + (cb === undefined ? '' :
    ` = 0x${cb.toString(16).padStart(2, '0')} (${cb}${cb >= 0x20 && cb < 0x7f ? ", '" + printable(cb) + "'" : ''})`);
  $('write-address').value = hex(c);
}

export async function moveHexCursor(delta) {
  let c = state.hexCursor + BigInt(delta);
  if (c < 0n) c = 0n;
  if (c > U64_MAX) c = U64_MAX;
  state.hexCursor = c;
  state.hexPending = '';
  if (c < state.hexBase || c >= state.hexBase + HEX_WINDOW) {
    state.hexBase = alignWindow(c);
    await reloadHex();
  } else {
    renderHex();
  }
}

export async function writeBytes(address, bytes) {
  const box = $('hex-problem');
  box.hidden = true;
  try {
    await api('PUT', `${taskPath(state.taskId)}/memory/${hex(address)}`,
      { body: bytes, type: 'application/octet-stream' });
  } catch (e) {
    if (!(e instanceof Problem)) throw e;
    showProblem(e, box);
    return false;
  }
  notice(`Wrote ${bytes.length} byte${bytes.length === 1 ? '' : 's'} at ${hex(address)}.`);
  await reloadHex();
  if (!state.hexBytes) box.hidden = true;
  refreshPages().catch(() => {});
  return true;
}

const HEX_MOVES = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -16, ArrowDown: 16, PageUp: -256, PageDown: 256 };
let hexQueue = Promise.resolve();

/** Keys in the hex view: handled in order, so digits typed while a write is on its way land where they should. */
export function hexKeydown(event) {
  const k = event.key;
  if (state.hexBase === null || event.ctrlKey || event.metaKey || event.altKey) return;
  if (!(k in HEX_MOVES) && k !== 'Home' && k !== 'End' && k !== 'Escape' && !/^[0-9a-fA-F]$/.test(k)) return;
  event.preventDefault();
  hexQueue = hexQueue.then(() => hexKey(k)).catch(showProblem);
}

async function hexKey(k) {
  if (k in HEX_MOVES) {
    await moveHexCursor(HEX_MOVES[k]);
  } else if (k === 'Home' || k === 'End') {
    const rowStart = state.hexCursor - (state.hexCursor % 16n);
    state.hexCursor = k === 'Home' ? rowStart : rowStart + 15n;
    state.hexPending = '';
    renderHex();
  } else if (k === 'Escape') {
    state.hexPending = '';
    renderHex();
  } else {
    if (!state.hexBytes) return;
    if (!state.hexPending) {
      state.hexPending = k.toLowerCase();
      renderHex();
      return;
    }
    const value = parseInt(state.hexPending + k, 16);
    const at = state.hexCursor;
    state.hexPending = '';
    if (await writeBytes(at, new Uint8Array([value]))) await moveHexCursor(1);
    else renderHex();
  }
}

/** "de ad be ef", "deadbeef", or a quoted string "text". */
export function parseBytes(text) {
  const t = text.trim();
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) return new TextEncoder().encode(t.slice(1, -1));
  const digits = t.replace(/0x/gi, '').replace(/[\s,]/g, '');
  if (!digits || digits.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(digits)) {
    throw new Error(`bytes: "${text}" is not an even number of hex digits or a "quoted string"`);
  }
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.substr(i * 2, 2), 16);
  return out;
}
