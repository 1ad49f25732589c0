// One task: opening it from the address bar, its summary, vm_allocate, and the selected region's calls.

import { $, showProblem, notice } from './dom.js';
import { big, hex, human, parseU64 } from './numbers.js';
import { state, addr } from './state.js';
import { api, getJson, taskPath } from './api.js';
import { renderTasks, refreshTasks } from './tasks.js';
import { renderMap, renderRegions, loadRegionStats, regionEnd } from './map.js';
import { refreshPages, renderPages } from './pages.js';
import { showHex, reloadHex } from './hexview.js';

export function route() {
  const m = /^#\/tasks\/([^/?]+)/.exec(location.hash);
  const id = m ? decodeURIComponent(m[1]) : null;
  if (id !== state.taskId) openTask(id).catch(showProblem);
}

async function openTask(id) {
  state.taskId = id;
  state.task = null;
  state.region = null;
  state.regions = [];
  state.pages = null;
  state.hexBase = null;
  renderTasks();
  $('task-view').hidden = !id;
  if (!id) return;
  $('task-id').textContent = id;
  $('task-name').textContent = '';
  $('task-summary').textContent = '';
  $('region-form').hidden = true;
  $('hex-problem').hidden = true;
  $('hex').replaceChildren();
  $('task-view').setAttribute('aria-busy', 'true');
  try {
    await refreshTask();
    const first = state.regions[0];
    if (first && id === state.taskId) await selectRegion(first);
    else renderPages();
  } finally {
    if (id === state.taskId) $('task-view').setAttribute('aria-busy', 'false');
  }
}

export async function refreshTask() {
  const id = state.taskId;
  if (!id) return;
  const [task, regions] = await Promise.all([getJson(taskPath(id)), getJson(taskPath(id) + '/regions')]);
  if (id !== state.taskId) return;
  state.task = task;
  state.regions = regions;
  $('task-name').textContent = task.name ? `“${task.name}”` : '';
  $('task-summary').textContent = `${task.flavor} · errors ${task.errors} · ` +
    `${human(task.pageSize)} pages · ${task.regionCount} regions · ${human(task.virtualBytes)} virtual · ` +
    `${human(task.residentBytes)} resident · map ${hex(task.minAddress)}–${hex(task.maxAddress)}`;
  if (state.region) {
    state.region = regions.find((r) => r.address === state.region.address) || null;
    $('region-form').hidden = !state.region;
  }
  renderMap();
  renderRegions();
  await loadRegionStats(id, regions);
}

export async function allocate() {
  const size = parseU64($('allocate-size').value, 'size');
  const at = $('allocate-address').value.trim();
  const body = at ? { address: hex(parseU64(at, 'address')), size: hex(size) } : { size: hex(size), anywhere: true };
  const res = await (await api('POST', taskPath(state.taskId) + '/allocate', { json: body })).json();
  notice(`Allocated ${human(res.size)} at ${res.address}.`);
  await refreshTask();
  const r = state.regions.find((x) => big(x.address) <= big(res.address) && big(res.address) < regionEnd(x));
  if (r) await selectRegion(r);
  refreshTasks().catch(() => {});
}

// ---------------------------------------------------------------- the selected region

export async function selectRegion(r) {
  state.region = r;
  state.pageStart = big(r.address);
  state.pageCursor = 0;
  renderMap();
  renderRegions();
  $('region-form').hidden = false;
  $('region-selected').textContent = `${addr(r.address)}-${addr(regionEnd(r))}`;
  $('protect-value').value = r.protection;
  $('inherit-value').value = r.inheritance;
  const moved = state.hexMoves;
  await refreshPages();
  // the hex view follows the selection unless it already shows the region or was moved meanwhile
  if (moved === state.hexMoves && (state.hexBase === null || big(state.hexBase) < big(r.address)
      || big(state.hexBase) >= regionEnd(r))) {
    await showHex(big(r.address), big(r.address));
  }
}

export async function regionCall(op, body, message) {
  const r = state.region;
  if (!r) throw new Error('select a region first');
  await api('POST', `${taskPath(state.taskId)}/${op}`, { json: { address: r.address, size: r.size, ...body } });
  notice(message);
  await refreshTask();
  if (state.region) await selectRegion(state.region);
  else { renderPages(); await reloadHex(); }
  refreshTasks().catch(() => {});
}
