/*
 * The dashboard's only script, served as /assets/dashboard.js (the page's CSP allows no other). It filters the
 * task table and the timeline as you type, and keeps the page live: the server's event stream (/api/events) says
 * when the store changed, and the script fetches the page's live part again (?part=live), rendered and escaped by
 * the server, and swaps it in. It also fetches it again when the page says it goes stale by the clock alone
 * (`data-refresh-in-ms`: a lease about to expire, an open attempt's bar growing), and when the order changes. No agent text ever goes through innerHTML: the fragment is parsed by DOMParser (which runs
 * nothing) and moved into the page as nodes; every other text is set with textContent. A module script
 * (strict, deferred); `npm run build` copies it to dist/ (tsc with allowJs).
 */
(() => {
  const status = document.getElementById('live-status');

  /** Shows the connection state in the header. */
  function showState(state, text) {
    if (status === null) return;
    status.dataset.state = state;
    status.textContent = text;
  }

  /** The overview's filter from its form: a status (or 'blocked') and a search text. */
  function currentFilter() {
    const select = document.getElementById('filter-status');
    const search = document.getElementById('filter-search');
    return {
      status: select === null ? '' : select.value,
      search: search === null ? '' : search.value.toLowerCase(),
    };
  }

  /** Hides the table's and the timeline's rows that do not pass the filter, and says how many tasks are shown. */
  function applyFilter() {
    const rows = document.querySelectorAll('tr.task-row');
    if (rows.length === 0 && document.getElementById('task-table') === null) return;
    const filter = currentFilter();
    let shown = 0;
    for (const row of document.querySelectorAll('tr.task-row, div.gantt-row[data-id]')) {
      const byStatus =
        filter.status === '' ||
        (filter.status === 'blocked'
          ? row.dataset.blocked === 'yes'
          : row.dataset.status === filter.status);
      const bySearch =
        filter.search === '' || (row.dataset.id || '').toLowerCase().includes(filter.search);
      row.hidden = !(byStatus && bySearch);
      if (!row.hidden && row.tagName === 'TR') shown += 1;
    }
    const count = document.getElementById('shown-count');
    if (count !== null) count.textContent = `${shown} of ${rows.length} tasks shown`;
  }

  /** Keeps the filter in the address bar, so a reload or a shared link shows the same rows. */
  function rememberFilter() {
    const filter = currentFilter();
    const params = new URLSearchParams();
    if (filter.status !== '') params.set('status', filter.status);
    const search = document.getElementById('filter-search');
    if (search !== null && search.value !== '') params.set('q', search.value);
    const sort = document.getElementById('filter-sort');
    if (sort !== null && sort.value !== 'run') params.set('sort', sort.value);
    const query = params.toString();
    history.replaceState(null, '', query === '' ? location.pathname : `?${query}`);
  }

  const form = document.getElementById('filter');
  if (form !== null) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      applyFilter();
      rememberFilter();
    });
    for (const id of ['filter-status', 'filter-search']) {
      const control = document.getElementById(id);
      if (control === null) continue;
      control.addEventListener('input', () => {
        applyFilter();
        rememberFilter();
      });
    }
    // The order is the server's to apply: remember it, then fetch the live part in that order.
    const sort = document.getElementById('filter-sort');
    if (sort !== null) {
      sort.addEventListener('change', () => {
        rememberFilter();
        void refresh();
      });
    }
  }

  let clockTimer = null;

  /** Fetches the live part again when the page says it goes stale by the clock alone (see data-refresh-in-ms). */
  function scheduleClockRefresh() {
    if (clockTimer !== null) clearTimeout(clockTimer);
    clockTimer = null;
    const live = document.getElementById('live');
    const ms = live === null ? Number.NaN : Number(live.dataset.refreshInMs ?? 'NaN');
    if (!Number.isFinite(ms)) return;
    clockTimer = setTimeout(
      () => {
        clockTimer = null;
        void refresh();
      },
      Math.max(250, ms),
    );
  }

  /** The time now as the dashboard writes every time: `HH:MM:SS UTC`. */
  function utcClock() {
    return `${new Date().toISOString().slice(11, 19)} UTC`;
  }

  let fetching = false;
  let again = false;

  /** Fetches the live part of this page again and swaps it in; one fetch at a time, the last change wins. */
  async function refresh() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    try {
      const url = new URL(location.href);
      url.searchParams.set('part', 'live');
      const response = await fetch(url, { headers: { Accept: 'text/html' }, cache: 'no-store' });
      const current = document.getElementById('live');
      // The store appeared while this page waited for it: load the page it asked for, whole.
      if (current !== null && current.dataset.page === 'waiting' && response.status !== 503) {
        location.reload();
        return;
      }
      if (response.status === 404) {
        showState('offline', 'this task is no longer stored');
        return;
      }
      // 503: the server waits for its store, and its fragment says so.
      if ((!response.ok && response.status !== 503) || current === null) {
        showState('offline', `could not refresh (HTTP ${response.status})`);
        return;
      }
      const parsed = new DOMParser().parseFromString(await response.text(), 'text/html');
      const fresh = parsed.getElementById('live');
      if (fresh === null) return;
      if (fresh.dataset.page !== current.dataset.page) {
        location.reload();
        return;
      }
      current.replaceWith(document.adoptNode(fresh));
      applyFilter();
      scheduleClockRefresh();
      document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || '0') + 1);
      showState('live', `live · updated ${utcClock()}`);
    } catch (error) {
      showState('offline', `could not refresh: ${error instanceof Error ? error.message : error}`);
    } finally {
      fetching = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  }

  if (document.getElementById('live') !== null && typeof EventSource === 'function') {
    const events = new EventSource('/api/events');
    events.addEventListener('ready', () => {
      showState('live', 'live');
      void refresh();
    });
    events.addEventListener('change', () => void refresh());
    events.addEventListener('error', () => showState('offline', 'offline · reconnecting…'));
  } else {
    showState('offline', 'not live');
  }
  applyFilter();
  scheduleClockRefresh();
})();
