// The page itself: elements by id, building elements, the problem bar and notices.

export const $ = (id) => document.getElementById(id);

export function showProblem(e, where) {
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
export function notice(text) {
  $('notice').textContent = text;
  $('notice').hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { $('notice').hidden = true; }, 6000);
}

/** Runs an action from a button or form, reporting its failure in the problem bar. */
export const act = (fn) => async (event) => {
  if (event && event.preventDefault) event.preventDefault();
  $('problem').hidden = true;
  try { await fn(event); } catch (e) { showProblem(e); }
};

export function el(tag, attrs, ...children) {
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
export function keepFocus(render) {
  const active = document.activeElement;
  const key = active && active.dataset ? active.dataset.key : undefined;
  render();
  if (key) {
    const again = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}
