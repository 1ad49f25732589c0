// The address space: the bar of regions and holes, and the region table in vmmap's columns.

import { $, el, act, keepFocus } from './dom.js';
import { big, hex, human } from './numbers.js';
import { state, addr } from './state.js';
import { getJson, taskPath } from './api.js';
import { selectRegion } from './task.js';

const STATS_MAX_PAGES = 16384n; // regions larger than this get no RSDNT/DIRTY/SHRMOD figures
const STATS_SPAN_PAGES = 8192n; // pages per page query for those figures
const STATS_MAX_QUERIES = 64;
const DENSE_MAP = 80; // regions from which the map drops its labels and minimum widths

const protClass = (p) => ({ '---': 'p-none', 'r--': 'p-r', 'rw-': 'p-rw', 'r-x': 'p-rx', 'rwx': 'p-rwx' }[p] || 'p-other');
export const regionEnd = (r) => big(r.address) + big(r.size);

function describeRegion(r) {
  const stats = state.regionStats.get(r.address);
  return `${addr(r.address)}-${addr(regionEnd(r))}  ${human(r.size)}  ${r.protection}/${r.maxProtection}  ` +
    `inheritance ${r.inheritance}${r.shared ? ', shared' : ''}` +
    (stats ? `  · ${stats.present} resident, ${stats.dirty} dirty, ${stats.shared} COW pages` : '');
}

/**
 * The address space as a bar: regions get a width that grows with the log of their size, holes a small fixed
 * width whatever their size, so that a 16K region next to a 100G hole is still visible.
 */
export function renderMap() {
  const task = state.task;
  const map = $('map');
  const parts = [];
  const page = BigInt(task.pageSize);
  const hole = (from, to) => {
    const size = to - from;
    return el('div', { class: 'hole', 'aria-hidden': 'true', 'data-tip': `unmapped ${addr(from)}-${addr(to)}  ${human(size)}` });
  };
  let cursor = big(task.minAddress);
  for (const r of state.regions) {
    const start = big(r.address);
    if (start > cursor) parts.push(hole(cursor, start));
    const pages = big(r.size) / page;
    const weight = 1 + Math.log2(Number(pages) + 1);
    const seg = el('button', {
      type: 'button', class: `seg ${protClass(r.protection)}${r.shared ? ' shm' : ''}` +
        `${state.region && state.region.address === r.address ? ' selected' : ''}`,
      'data-address': r.address, 'data-key': 'seg:' + r.address, 'data-tip': describeRegion(r),
      'aria-label': describeRegion(r), 'aria-pressed': state.region && state.region.address === r.address ? 'true' : 'false',
      onclick: act(() => selectRegion(r)),
    }, el('span', { text: r.protection }));
    seg.style.flexGrow = String(weight);
    parts.push(seg);
    cursor = regionEnd(r);
  }
  if (big(task.maxAddress) > cursor) parts.push(hole(cursor, big(task.maxAddress)));
  map.classList.toggle('dense', state.regions.length >= DENSE_MAP);
  keepFocus(() => map.replaceChildren(...parts));
  $('map-min').textContent = addr(task.minAddress);
  $('map-max').textContent = addr(task.maxAddress);
}

export function showTip(target, x) {
  const tip = $('map-tip');
  if (!target || !target.dataset.tip) { tip.hidden = true; return; }
  tip.textContent = target.dataset.tip;
  tip.hidden = false;
  const wrap = $('map').getBoundingClientRect();
  const left = Math.max(0, Math.min((x ?? target.getBoundingClientRect().left) - wrap.left, wrap.width - tip.offsetWidth));
  tip.style.left = `${left}px`;
}

function shrmod(r, stats) {
  if (r.shared) return 'SHM';
  if (!stats) return '';
  if (stats.present === 0) return 'NUL';
  if (stats.shared > 0) return stats.shared === stats.present ? 'COW' : 'P/C';
  return 'PRV';
}

export function renderRegions() {
  const rows = state.regions.map((r) => {
    const stats = state.regionStats.get(r.address);
    const page = BigInt(state.task.pageSize);
    const selected = state.region && state.region.address === r.address;
    return el('tr', { 'data-address': r.address, class: selected ? 'selected' : null,
      'aria-selected': selected ? 'true' : 'false' },
      el('td', { class: 'mono' }, el('button', { type: 'button', class: 'link mono', 'data-key': 'row:' + r.address,
        onclick: act(() => selectRegion(r)), text: `${addr(r.address)}-${addr(regionEnd(r))}` })),
      el('td', { class: 'num', 'data-col': 'vsize', title: hex(r.size), text: human(r.size) }),
      el('td', { class: 'num', 'data-col': 'rsdnt', text: stats ? human(BigInt(stats.present) * page) : '–' }),
      el('td', { class: 'num', 'data-col': 'dirty', text: stats ? human(BigInt(stats.dirty) * page) : '–' }),
      el('td', { class: 'mono', 'data-col': 'prot' }, el('i', { class: 'swatch ' + protClass(r.protection) }),
        `${r.protection}/${r.maxProtection}`),
      el('td', { 'data-col': 'shrmod', text: shrmod(r, stats) }),
      el('td', { 'data-col': 'inherit', text: r.inheritance }),
      el('td', { class: 'num mono', 'data-col': 'offset', text: hex(r.offset) }));
  });
  keepFocus(() => $('regions-body').replaceChildren(...rows));
  $('regions-empty').hidden = rows.length > 0;
}

/**
 * Resident, dirty and COW page counts per region from the page query. Neighbouring regions are asked for in one
 * query of up to STATS_SPAN_PAGES pages (holes answer 0); regions over STATS_MAX_PAGES, and regions past the
 * first STATS_MAX_QUERIES queries, get no figures.
 */
export async function loadRegionStats(id, regions) {
  const page = BigInt(state.task.pageSize);
  const spans = [];
  let span = null;
  for (const r of regions) {
    const start = big(r.address);
    const end = regionEnd(r);
    if ((end - start) / page > STATS_MAX_PAGES) continue;
    if (span && (end - span.start) / page <= STATS_SPAN_PAGES) {
      span.end = end;
      span.regions.push(r);
    } else {
      if (spans.length === STATS_MAX_QUERIES) break;
      span = { start, end, regions: [r] };
      spans.push(span);
    }
  }
  const stats = new Map();
  await Promise.all(spans.map(async (sp) => {
    const q = await getJson(`${taskPath(id)}/pages?address=${hex(sp.start)}&size=${hex(sp.end - sp.start)}`);
    for (const r of sp.regions) {
      const from = Number((big(r.address) - sp.start) / page);
      const to = Number((regionEnd(r) - sp.start) / page);
      let present = 0; let dirty = 0; let shared = 0;
      for (let i = from; i < to; i++) {
        const d = q.dispositions[i];
        if (d & 0x1) present++;
        if (d & 0x8) dirty++;
        if (d & 0x20) shared++;
      }
      stats.set(r.address, { present, dirty, shared });
    }
  }));
  if (id !== state.taskId) return;
  state.regionStats = stats;
  renderRegions();
  for (const seg of $('map').querySelectorAll('.seg')) {
    const r = state.regions.find((x) => x.address === seg.dataset.address);
    if (r) { seg.dataset.tip = describeRegion(r); seg.setAttribute('aria-label', describeRegion(r)); }
  }
}
