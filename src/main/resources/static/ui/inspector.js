// machvm inspector: a single page over the public HTTP API (see openapi/openapi.yaml).
// u64 quantities arrive as "0x…" strings and are handled as BigInt throughout.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'machvm.token';
  const HEX_ROWS = 16;
  const HEX_WINDOW = BigInt(HEX_ROWS * 16);
  const U64_MAX = (1n << 64n) - 1n;
  const PAGE_GRID_MAX = 4096; // pages drawn (and queried) at a time
  const STATS_MAX_PAGES = 16384n; // regions larger than this get no RSDNT/DIRTY/SHRMOD figures
  const STATS_SPAN_PAGES = 8192n; // pages per page query for those figures
  const STATS_MAX_QUERIES = 64;
  const DENSE_MAP = 80; // regions from which the map drops its labels and minimum widths
  const POLL_MS = 3000;

  const state = {
    tasks: [], tasksKey: '',
    taskId: null, task: null, regions: [], regionStats: new Map(),
    region: null, pageStart: 0n, pages: null, pageCursor: 0,
    hexBase: null, hexBytes: null, hexCursor: null, hexPending: '', hexMoves: 0,
    authPaused: false,
  };

  // ---------------------------------------------------------------- numbers

  const big = (v) => (typeof v === 'bigint' ? v : BigInt(v));
  const hex = (n, width = 0) => '0x' + big(n).toString(16).padStart(width, '0');

  /** An address or size typed by a person: 0x hex, decimal, or hex with a trailing h; BigInt or throws. */
  function parseU64(text, what) {
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
  function human(bytes) {
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

  const addrWidth = () => (state.task ? Math.max(9, big(state.task.maxAddress).toString(16).length) : 9);
  const addr = (n) => hex(n, addrWidth());

  // ---------------------------------------------------------------- the API

  class Problem extends Error {
    constructor(status, body, fallback) {
      const title = (body && body.title) || fallback || `HTTP ${status}`;
      super(title);
      this.status = status;
      this.title = title;
      this.detail = (body && body.detail) || '';
      this.kern = body && body.kern;
    }
  }

  let tokenPrompt = null;

  /** Asks for a token once, however many calls were refused meanwhile; resolves when one is given. */
  function askToken(message, refused) {
    if (tokenPrompt) return tokenPrompt;
    tokenPrompt = new Promise((resolve, reject) => {
      const dialog = $('auth-dialog');
      $('auth-message').textContent = message || 'The service asks for a bearer token.';
      $('auth-token').value = '';
      const done = (ok) => {
        dialog.removeEventListener('close', onClose);
        $('auth-cancel').removeEventListener('click', onCancel);
        tokenPrompt = null;
        if (ok) { state.authPaused = false; resolve(); } else {
          // after a refusal, background refreshes wait until a token is given through "Token…"
          if (refused) state.authPaused = true;
          reject(new Problem(401, { title: 'Unauthorized', detail: 'no token given; use "Token…" to sign in' }));
        }
      };
      const onClose = () => {
        const token = $('auth-token').value.trim();
        if (dialog.returnValue === 'ok' && token) {
          sessionStorage.setItem(TOKEN_KEY, token);
          done(true);
        } else {
          done(false);
        }
      };
      const onCancel = () => { dialog.returnValue = 'cancel'; dialog.close(); };
      dialog.addEventListener('close', onClose);
      $('auth-cancel').addEventListener('click', onCancel);
      dialog.returnValue = '';
      dialog.showModal();
      $('auth-token').focus();
    });
    return tokenPrompt;
  }

  async function problemOf(res) {
    let body = null;
    const type = res.headers.get('Content-Type') || '';
    try {
      if (type.includes('json')) body = await res.json();
      else { const text = await res.text(); body = { detail: text.slice(0, 300) }; }
    } catch (e) { /* no body */ }
    return new Problem(res.status, body, res.statusText);
  }

  /**
   * One call: adds the bearer token, asks for one on a 401 and retries, and throws a Problem for any
   * other failure. options: json (a body to send as JSON), body + type (raw), accept.
   */
  async function api(method, path, options = {}) {
    for (;;) {
      const headers = {};
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (token) headers.Authorization = 'Bearer ' + token;
      let body = options.body;
      if (options.json !== undefined) {
        headers['Content-Type'] = 'application/json';
        body = JSON.stringify(options.json);
      } else if (options.type) {
        headers['Content-Type'] = options.type;
      }
      if (options.accept) headers.Accept = options.accept;
      const res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'same-origin' });
      if (res.status === 401) {
        const p = await problemOf(res);
        if (options.background && state.authPaused) throw p;
        const why = token ? 'The token was refused' : 'The service asks for a bearer token';
        await askToken(`${why}${p.detail ? ': ' + p.detail : '.'}`, true);
        continue;
      }
      if (!res.ok) throw await problemOf(res);
      return res;
    }
  }

  const getJson = async (path, options) => (await api('GET', path, options)).json();
  const taskPath = (id) => '/tasks/' + encodeURIComponent(id);

  // ---------------------------------------------------------------- messages

  function showProblem(e, where) {
    if (where) {
      where.hidden = false;
      where.replaceChildren(el('strong', null, e.title || e.message), ' ', e.detail || '');
      return;
    }
    $('problem-title').textContent = e.title || e.message;
    $('problem-detail').textContent = e.detail || '';
    $('problem').hidden = false;
  }

  let noticeTimer = null;
  function notice(text) {
    $('notice').textContent = text;
    $('notice').hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { $('notice').hidden = true; }, 6000);
  }

  /** Runs an action from a button or form, reporting its failure in the problem bar. */
  const act = (fn) => async (event) => {
    if (event && event.preventDefault) event.preventDefault();
    $('problem').hidden = true;
    try { await fn(event); } catch (e) { showProblem(e); }
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : v);
      }
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  /** Re-renders a container keeping keyboard focus on the element with the same data-key. */
  function keepFocus(render) {
    const active = document.activeElement;
    const key = active && active.dataset ? active.dataset.key : undefined;
    render();
    if (key) {
      const again = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (again) again.focus();
    }
  }

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

  // ---------------------------------------------------------------- tasks

  async function refreshTasks(background) {
    if (background && state.authPaused) return;
    const tasks = await getJson('/tasks', { background });
    tasks.sort((a, b) => a.id.localeCompare(b.id));
    const key = JSON.stringify(tasks);
    if (key === state.tasksKey) return;
    state.tasks = tasks;
    state.tasksKey = key;
    keepFocus(renderTasks);
  }

  function renderTasks() {
    const rows = state.tasks.map((t) => {
      const open = t.id === state.taskId;
      return el('tr', { 'data-task': t.id, class: open ? 'selected' : null },
        el('td', null, el('a', { href: '#/tasks/' + encodeURIComponent(t.id), 'data-key': 'open:' + t.id,
          'aria-current': open ? 'page' : null, text: t.id })),
        el('td', { text: t.name || '' }),
        el('td', { text: `${t.flavor}${t.errors === 'xnu' ? ' (xnu)' : ''}` }),
        el('td', { class: 'num', text: String(t.regionCount) }),
        el('td', { class: 'num', title: hex(t.virtualBytes), text: human(t.virtualBytes) }),
        el('td', { class: 'num', title: hex(t.residentBytes), text: human(t.residentBytes) }),
        el('td', { class: 'actions' },
          el('button', { type: 'button', 'data-key': 'fork:' + t.id, onclick: act(() => fork(t.id)), text: 'Fork' }),
          el('button', { type: 'button', 'data-key': 'snap:' + t.id, onclick: act(() => snapshot(t.id)),
            text: 'Snapshot' }),
          el('button', { type: 'button', class: 'danger', 'data-key': 'term:' + t.id,
            onclick: act((e) => terminate(t.id, e.currentTarget)), text: 'Terminate' })));
    });
    $('tasks-body').replaceChildren(...rows);
    $('tasks-empty').hidden = rows.length > 0;
  }

  async function createTask() {
    const body = {};
    for (const f of ['name', 'flavor', 'errors']) {
      const v = $('create-' + f).value.trim();
      if (v) body[f] = v;
    }
    const id = $('create-id').value.trim();
    const res = id ? await api('PUT', taskPath(id), { json: body }) : await api('POST', '/tasks', { json: body });
    const task = await res.json();
    $('create-id').value = '';
    notice(`Created task ${task.id}.`);
    await refreshTasks();
    location.hash = '#/tasks/' + encodeURIComponent(task.id);
  }

  async function fork(parent) {
    const child = await (await api('POST', '/tasks', { json: { parent } })).json();
    notice(`Forked ${parent} into ${child.id}.`);
    await refreshTasks();
  }

  async function snapshot(id) {
    const res = await api('GET', taskPath(id) + '/snapshot', { accept: 'application/vnd.machvm.snapshot' });
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: `${id}.machvm` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    notice(`Snapshot of ${id}: ${blob.size} bytes.`);
  }

  async function restore() {
    const file = $('restore-file').files[0];
    if (!file) throw new Error('choose a snapshot file first');
    const id = $('restore-id').value.trim();
    const options = { body: file, type: 'application/vnd.machvm.snapshot' };
    const res = id ? await api('PUT', taskPath(id), options) : await api('POST', '/tasks', options);
    const task = await res.json();
    notice(`Restored ${file.name} as task ${task.id}.`);
    $('restore-file').value = '';
    $('restore-id').value = '';
    await refreshTasks();
    location.hash = '#/tasks/' + encodeURIComponent(task.id);
  }

  /** Terminate asks for a second press within a few seconds. */
  async function terminate(id, button) {
    if (button.dataset.armed !== 'yes') {
      button.dataset.armed = 'yes';
      button.textContent = 'Confirm terminate';
      setTimeout(() => { button.dataset.armed = ''; button.textContent = 'Terminate'; }, 4000);
      return;
    }
    await api('DELETE', taskPath(id));
    notice(`Terminated ${id}.`);
    if (id === state.taskId) location.hash = '#/';
    await refreshTasks();
  }

  // ---------------------------------------------------------------- one task

  function route() {
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

  async function refreshTask() {
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

  const protClass = (p) => ({ '---': 'p-none', 'r--': 'p-r', 'rw-': 'p-rw', 'r-x': 'p-rx', 'rwx': 'p-rwx' }[p] || 'p-other');
  const regionEnd = (r) => big(r.address) + big(r.size);

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
  function renderMap() {
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

  function showTip(target, x) {
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

  function renderRegions() {
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
  async function loadRegionStats(id, regions) {
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

  async function allocate() {
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

  // ---------------------------------------------------------------- region actions and pages

  async function selectRegion(r) {
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

  async function regionCall(op, body, message) {
    const r = state.region;
    if (!r) throw new Error('select a region first');
    await api('POST', `${taskPath(state.taskId)}/${op}`, { json: { address: r.address, size: r.size, ...body } });
    notice(message);
    await refreshTask();
    if (state.region) await selectRegion(state.region);
    else { renderPages(); await reloadHex(); }
    refreshTasks().catch(() => {});
  }

  async function refreshPages() {
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

  function renderPages() {
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

  async function movePages(direction) {
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

  function pagesKey(event) {
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

  // ---------------------------------------------------------------- bytes

  function alignWindow(a) {
    let base = a - (a % HEX_WINDOW);
    if (base > U64_MAX - HEX_WINDOW + 1n) base = U64_MAX - HEX_WINDOW + 1n;
    return base;
  }

  /** Shows the 256-byte window holding address a, with the cursor on the byte at `cursor`. */
  async function showHex(a, cursor) {
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
  async function reloadHex() {
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

  async function moveHexCursor(delta) {
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

  async function writeBytes(address, bytes) {
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
  function hexKeydown(event) {
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
  function parseBytes(text) {
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
})();
