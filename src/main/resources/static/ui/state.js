// What the page shows: the tasks, the open task, the selected region, the pages and bytes on view.

import { big, hex } from './numbers.js';

export const state = {
  tasks: [], tasksKey: '',
  taskId: null, task: null, regions: [], regionStats: new Map(),
  region: null, pageStart: 0n, pages: null, pageCursor: 0,
  hexBase: null, hexBytes: null, hexCursor: null, hexPending: '', hexMoves: 0,
  authPaused: false,
};

const addrWidth = () => (state.task ? Math.max(9, big(state.task.maxAddress).toString(16).length) : 9);
export const addr = (n) => hex(n, addrWidth());
