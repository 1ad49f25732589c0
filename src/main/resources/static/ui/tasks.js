// The tasks list: create, fork, snapshot, restore and terminate.

import { $, el, act, notice, keepFocus } from './dom.js';
import { hex, human } from './numbers.js';
import { state } from './state.js';
import { api, getJson, taskPath } from './api.js';

export async function refreshTasks(background) {
  if (background && state.authPaused) return;
  const tasks = await getJson('/tasks', { background });
  tasks.sort((a, b) => a.id.localeCompare(b.id));
  const key = JSON.stringify(tasks);
  if (key === state.tasksKey) return;
  state.tasks = tasks;
  state.tasksKey = key;
  keepFocus(renderTasks);
}

export function renderTasks() {
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
          onclick: act(() => terminate(t.id)), text: state.armedTerminate === t.id ? 'Confirm terminate' : 'Terminate' })));
  });
  $('tasks-body').replaceChildren(...rows);
  $('tasks-empty').hidden = rows.length > 0;
}

export async function createTask() {
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

export async function restore() {
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

/**
 * Terminate asks for a second press within a few seconds. Which task is armed lives in the state, not on the button,
 * so that a refresh of the list in between neither loses nor forgets it.
 */
async function terminate(id) {
  if (state.armedTerminate !== id) {
    state.armedTerminate = id;
    clearTimeout(state.armedTimer);
    state.armedTimer = setTimeout(() => { state.armedTerminate = null; keepFocus(renderTasks); }, 4000);
    keepFocus(renderTasks);
    return;
  }
  state.armedTerminate = null;
  clearTimeout(state.armedTimer);
  await api('DELETE', taskPath(id));
  notice(`Terminated ${id}.`);
  if (id === state.taskId) location.hash = '#/';
  await refreshTasks();
}
