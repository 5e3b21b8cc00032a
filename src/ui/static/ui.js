// What every page of the dashboard shares: htm bound to Preact, formatting, and small components.
import { h } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { dashboardConfig } from './api.js';
import { onJobChange, throttled } from './live.js';

export const html = htm.bind(h);

export const PRIORITY_NAMES = { 1: 'low', 2: 'normal', 3: 'high', 4: 'urgent' };
/** Statuses as the server's domain defines them (put in the page's config). */
export const JOB_STATUSES = dashboardConfig.jobStatuses ?? [];
export const TERMINAL_STATUSES = dashboardConfig.terminalStatuses ?? [];
export const BATCH_STATUSES = dashboardConfig.batchStatuses ?? [];
export const isTerminal = (status) => TERMINAL_STATUSES.includes(status);

/** Which controls a job in `status` offers (the API refuses the others with 409 anyway). */
export function jobActions(status) {
  const final = isTerminal(status);
  return {
    pause: !final && status !== 'paused',
    resume: status === 'paused',
    cancel: !final,
    retry: final && status !== 'completed',
    delete: final,
    reprioritize: !final,
  };
}

export const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export const shortId = (id) => (id && id.length > 14 ? `${id.slice(0, 12)}…` : id);

export function StatusBadge({ status }) {
  return html`<span class=${`badge status-${status}`}>${status?.replace('_', ' ')}</span>`;
}

export function ProgressBar({ value, label }) {
  const percent = Math.max(0, Math.min(100, Math.round(value ?? 0)));
  return html`<div
    class="progress"
    role="progressbar"
    aria-label=${label}
    aria-valuemin="0"
    aria-valuemax="100"
    aria-valuenow=${percent}
  >
    <div class="progress-fill" style=${`width: ${percent}%`}></div>
    <span class="progress-text">${percent}%</span>
  </div>`;
}

/** A message in a live region: screen readers announce it. */
export function Notice({ kind = 'info', children }) {
  return html`<div class=${`notice notice-${kind}`} role=${kind === 'error' ? 'alert' : 'status'}>${children}</div>`;
}

/** What a view shows when its API is not there (404): e.g. an engine older than the view. */
export function NotAvailable({ what }) {
  return html`<${Notice} kind="muted"><strong>Not available:</strong> this engine's API has no ${what} (it answered 404).<//>`;
}

/** Loads with `loader()` now and on `reload()`; keeps the last data while reloading. */
export function useAsync(loader, deps) {
  const [state, setState] = useState({ data: undefined, error: undefined, loading: true });
  const generation = useRef(0);
  const reload = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    loader().then(
      (data) => mine === generation.current && setState({ data, error: undefined, loading: false }),
      (error) => mine === generation.current && setState((s) => ({ data: s.data, error, loading: false })),
    );
  }, deps);
  useEffect(reload, [reload]);
  return { ...state, reload };
}

/** Runs an action (a control call): remembers its outcome as a message for a live region. */
export function useAction() {
  const [outcome, setOutcome] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (what, action) => {
    setBusy(true);
    try {
      const result = await action();
      setOutcome({ kind: 'ok', text: typeof result === 'string' ? result : `${what}: done` });
      return result;
    } catch (error) {
      setOutcome({ kind: 'error', text: `${what} failed — ${error.message}` });
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { outcome, busy, run, clear: () => setOutcome(undefined) };
}

export function Outcome({ outcome }) {
  return outcome ? html`<${Notice} kind=${outcome.kind === 'ok' ? 'ok' : 'error'}>${outcome.text}<//>` : null;
}

export function ErrorNotice({ error, what }) {
  if (!error) return null;
  return html`<${Notice} kind="error">Could not load ${what}: ${error.message}<//>`;
}

/** A labelled field: the label names the control for screen readers and for tests. */
export function Field({ label, children, id }) {
  return html`<label class="field" for=${id}><span>${label}</span>${children}</label>`;
}

export function PrioritySelect({ id, value, onChange, label = 'Priority', includeAny = false }) {
  return html`<select id=${id} aria-label=${label} value=${value ?? ''} onChange=${(e) => onChange(e.currentTarget.value)}>
    ${includeAny ? html`<option value="">any</option>` : null}
    ${Object.entries(PRIORITY_NAMES).map(([n, name]) => html`<option value=${n}>${n} ${name}</option>`)}
  </select>`;
}

/** The Web UI's page of a job's (or a batch's) workflow, when the engine knows the Web UI. */
export function temporalLink(workflowId) {
  if (!dashboardConfig.temporalUiUrl) return undefined;
  return `${dashboardConfig.temporalUiUrl}/namespaces/${encodeURIComponent(dashboardConfig.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** A table's header row of column names. */
export function Head({ columns }) {
  return html`<thead>
    <tr>
      ${columns.map((name) => html`<th scope="col">${name}</th>`)}
    </tr>
  </thead>`;
}

/** The reason field every control sends along (recorded in the action's event). */
export function ReasonField({ id, value, onChange }) {
  return html`<${Field} label="Reason (recorded with the action)" id=${id}
    ><input id=${id} value=${value} onInput=${(e) => onChange(e.currentTarget.value)} placeholder="optional"
  /><//>`;
}

/** Cursor paging: a stack of the cursors of the pages seen, so Previous goes back without a query. */
export function usePages() {
  const [cursors, setCursors] = useState([undefined]);
  return {
    cursor: cursors[cursors.length - 1],
    reset: () => setCursors([undefined]),
    /** The Previous / Next buttons (a render function, not a component: the buttons keep their focus). */
    pager: (next) =>
      html`<nav class="pager" aria-label="Pages">
        <button type="button" disabled=${cursors.length === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span>Page ${cursors.length}</span>
        <button type="button" disabled=${!next} onClick=${() => setCursors([...cursors, next])}>Next page</button>
      </nav>`,
  };
}

/** Reloads with `reload` when a job changes on the live stream, at most once per `intervalMs`. */
export function useLiveReload(reload, intervalMs, filter = () => true) {
  useEffect(() => {
    const again = throttled(reload, intervalMs);
    const stop = onJobChange((change) => filter(change) && again.trigger());
    return () => {
      stop();
      again.cancel();
    };
  }, [reload]);
}
