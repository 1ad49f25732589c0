// machvm inspector: a single page over the public HTTP API (see openapi/openapi.yaml).
// This module starts it: the host panel, the controls' handlers and the polling.

import { $, act, notice, showProblem } from './dom.js';
import { big, hex, human, parseU64 } from './numbers.js';
import { state, addr } from './state.js';
import { TOKEN_KEY, askToken, api, getJson, taskPath } from './api.js';
import { refreshTasks, createTask, restore } from './tasks.js';
import { route, refreshTask, allocate, regionCall } from './task.js';
import { regionEnd, showTip } from './map.js';
import { refreshPages, movePages, pagesKey } from './pages.js';
import { HEX_WINDOW, alignWindow, showHex, reloadHex, moveHexCursor, writeBytes, hexKeydown, parseBytes } from './hexview.js';

const POLL_MS = 3000;

// ---------------------------------------------------------------- host

async function refreshHost() {
  if (state.authPaused) return;
  try {
    const h = await getJson('/host/statistics', { background: true });
    const page = BigInt(h.pageSize);
    $('host-page-size').textContent = human(page);
    $('host-resident').textContent = `${h.residentPages} (${human(page * BigInt(h.residentPages))})`;
    $('host-shared').textContent = `${h.sharedPages}`;
    $('host-free').textContent = `${h.freePages} (${human(page * BigInt(h.freePages))})`;
    $('host-tasks').textContent = `${h.tasks}`;
    const total = h.residentPages + h.freePages || 1;
    $('host-meter-resident').style.width = `${(100 * h.residentPages) / total}%`;
    $('host-meter-shared').style.width = `${(100 * h.sharedPages) / total}%`;
    $('host').title = `capacity ${hex(h.capacityBytes)} (${human(h.capacityBytes)})`;
    $('host-updated').textContent = new Date().toLocaleTimeString();
  } catch (e) {
    $('host-updated').textContent = 'unavailable: ' + (e.detail || e.message);
  }
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('create-form').addEventListener('submit', act(createTask));
  $('restore-form').addEventListener('submit', act(restore));
  $('allocate-form').addEventListener('submit', act(allocate));
  $('task-refresh').addEventListener('click', act(async () => {
    await refreshTask();
    if (state.region) await refreshPages();
    await reloadHex();
  }));
  $('problem-close').addEventListener('click', () => { $('problem').hidden = true; });
  $('auth-button').addEventListener('click', act(async () => {
    await askToken(sessionStorage.getItem(TOKEN_KEY) ? 'Replace the bearer token.' : 'Enter a bearer token.');
    await Promise.all([refreshHost(), refreshTasks()]);
  }));
  $('auth-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $('auth-token').value = '';
    notice('Token forgotten.');
  });

  const map = $('map');
  map.addEventListener('mousemove', (e) => showTip(e.target.closest('[data-tip]'), e.clientX));
  map.addEventListener('mouseleave', () => showTip(null));
  map.addEventListener('focusin', (e) => showTip(e.target.closest('[data-tip]')));
  map.addEventListener('focusout', () => showTip(null));
  map.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    const segs = [...map.querySelectorAll('.seg')];
    const i = segs.indexOf(document.activeElement);
    const next = segs[i + (e.key === 'ArrowRight' ? 1 : -1)];
    if (next) { e.preventDefault(); next.focus(); }
  });

  $('protect-button').addEventListener('click', act(() => regionCall('protect',
    { protection: $('protect-value').value.trim(), setMaximum: $('protect-max').checked },
    `Protection set to ${$('protect-value').value.trim()}${$('protect-max').checked ? ' (maximum)' : ''}.`)));
  $('region-form').addEventListener('submit', (e) => e.preventDefault());
  $('inherit-button').addEventListener('click', act(() => regionCall('inherit',
    { inheritance: $('inherit-value').value }, `Inheritance set to ${$('inherit-value').value}.`)));
  $('deallocate-button').addEventListener('click', act(async (e) => {
    const b = e.currentTarget;
    if (b.dataset.armed !== 'yes') {
      b.dataset.armed = 'yes';
      b.textContent = 'Confirm deallocate';
      setTimeout(() => { b.dataset.armed = ''; b.textContent = 'Deallocate'; }, 4000);
      return;
    }
    b.dataset.armed = '';
    b.textContent = 'Deallocate';
    const gone = state.region;
    await regionCall('deallocate', {}, `Deallocated ${addr(gone.address)}-${addr(regionEnd(gone))}.`);
  }));

  $('pages-refresh').addEventListener('click', act(async () => { await refreshPages(); await refreshTask(); }));
  $('pages-clear-dirty').addEventListener('click', act(async () => {
    await api('DELETE', taskPath(state.taskId) + '/pages/dirty');
    notice('Dirty pages cleared.');
    await refreshPages();
    await refreshTask();
  }));
  $('pages-prev').addEventListener('click', act(() => movePages(-1)));
  $('pages-next').addEventListener('click', act(() => movePages(1)));
  $('pages-grid').addEventListener('keydown', pagesKey);
  $('pages-grid').addEventListener('click', act((e) => {
    const cell = e.target.closest('.pg');
    if (!cell) return undefined;
    state.pageCursor = [...$('pages-grid').children].indexOf(cell);
    const a = big(cell.dataset.address);
    return showHex(a, a);
  }));

  $('goto-form').addEventListener('submit', act(async () => {
    const a = parseU64($('goto-address').value, 'address');
    await showHex(a, a);
    $('hex').focus();
  }));
  $('hex-prev').addEventListener('click', act(() => moveHexCursor(-256)));
  $('hex-next').addEventListener('click', act(() => moveHexCursor(256)));
  $('hex-reload').addEventListener('click', act(reloadHex));
  $('hex').addEventListener('keydown', hexKeydown);
  $('write-form').addEventListener('submit', act(async () => {
    const at = parseU64($('write-address').value, 'address');
    const bytes = parseBytes($('write-bytes').value);
    if (state.hexBase === null || at < state.hexBase || at >= state.hexBase + HEX_WINDOW) {
      state.hexBase = alignWindow(at);
    }
    state.hexCursor = at;
    await writeBytes(at, bytes);
  }));

  window.addEventListener('hashchange', route);
}

async function poll() {
  if (document.hidden) { setTimeout(poll, POLL_MS); return; } // nobody is looking
  await Promise.all([
    refreshHost(),
    refreshTasks(true).catch(() => {}),
    $('task-auto').checked && state.taskId ? refreshTask().then(refreshPages).catch(() => {}) : null,
  ]);
  setTimeout(poll, POLL_MS);
}

wire();
refreshTasks().catch(showProblem).finally(() => {
  route();
  setTimeout(poll, POLL_MS);
});
refreshHost();
