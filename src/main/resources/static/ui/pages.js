// The page grid of the selected region: present, dirty and shared pages, and moving through them.

import { $, el, showProblem } from './dom.js';
import { big, hex } from './numbers.js';
import { state, addr } from './state.js';
import { getJson, taskPath } from './api.js';
import { regionEnd } from './map.js';
import { showHex } from './hexview.js';

const PAGE_GRID_MAX = 4096; // pages drawn (and queried) at a time

export async function refreshPages() {
  const r = state.region;
  if (!r) { renderPages(); return; }
  const page = BigInt(state.task.pageSize);
  const end = regionEnd(r);
  let size = end - state.pageStart;
  if (size > BigInt(PAGE_GRID_MAX) * page) size = BigInt(PAGE_GRID_MAX) * page;
  const q = await getJson(`${taskPath(state.taskId)}/pages?address=${hex(state.pageStart)}&size=${hex(size)}`);
  state.pages = q;
  renderPages();
}

export function renderPages() {
  const grid = $('pages-grid');
  const r = state.region;
  $('pages-hint').hidden = !!r;
  if (!r || !state.pages) {
    grid.replaceChildren();
    $('pages-range').textContent = '';
    $('pages-counts').textContent = '';
    return;
  }
  const page = BigInt(state.task.pageSize);
  const total = big(r.size) / page;
  const q = state.pages;
  const first = (big(q.address) - big(r.address)) / page;
  $('pages-range').textContent = `${addr(r.address)}-${addr(regionEnd(r))} · pages ${first}–` +
    `${first + BigInt(q.pages.length) - 1n} of ${total}`;
  let present = 0; let dirty = 0; let shared = 0;
  const cells = q.pages.map((p, i) => {
    if (p.present) present++;
    if (p.dirty) dirty++;
    if (p.shared) shared++;
    const flags = [p.present ? 'present' : 'absent', p.dirty ? 'dirty' : null, p.shared ? 'shared' : null]
      .filter(Boolean).join(', ');
    return el('div', { role: 'gridcell', id: 'pg-' + i, 'data-address': p.address,
      class: `pg${p.present ? ' present' : ''}${p.dirty ? ' dirty' : ''}${p.shared ? ' shared' : ''}` +
        `${i === state.pageCursor ? ' cursor' : ''}`,
      title: `${p.address}: ${flags}`, 'aria-label': `${p.address} ${flags}` });
  });
  grid.replaceChildren(...cells);
  // few pages get big cells, a large region small ones
  grid.className = 'pages ' + (cells.length <= 64 ? 'large' : cells.length <= 512 ? 'medium' : 'small');
  grid.setAttribute('aria-activedescendant', 'pg-' + Math.min(state.pageCursor, cells.length - 1));
  $('pages-counts').textContent = `${present} present · ${dirty} dirty · ${shared} shared of ${q.pages.length} shown`;
  $('pages-prev').disabled = big(q.address) <= big(r.address);
  $('pages-next').disabled = big(q.address) + big(q.size) >= regionEnd(r);
}

export async function movePages(direction) {
  const r = state.region;
  if (!r) return;
  const step = BigInt(PAGE_GRID_MAX) * BigInt(state.task.pageSize);
  let start = state.pageStart + BigInt(direction) * step;
  if (start < big(r.address)) start = big(r.address);
  if (start >= regionEnd(r)) return;
  state.pageStart = start;
  state.pageCursor = 0;
  await refreshPages();
}

export function pagesKey(event) {
  const cells = $('pages-grid').children;
  if (!cells.length) return;
  const perRow = Math.max(1, Math.round($('pages-grid').clientWidth / (cells[0].offsetWidth + 2)));
  const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -perRow, ArrowDown: perRow, Home: -1e9, End: 1e9 };
  if (event.key in moves) {
    event.preventDefault();
    cells[state.pageCursor] && cells[state.pageCursor].classList.remove('cursor');
    state.pageCursor = Math.max(0, Math.min(cells.length - 1, state.pageCursor + moves[event.key]));
    cells[state.pageCursor].classList.add('cursor');
    $('pages-grid').setAttribute('aria-activedescendant', 'pg-' + state.pageCursor);
    $('hex-status').textContent = cells[state.pageCursor].title;
  } else if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    const a = big(cells[state.pageCursor].dataset.address);
    showHex(a, a).catch(showProblem);
  }
}
