// One job: its fields, progress, message and ETA, controls, result files, the link to its execution in
// the Temporal Web UI, and its event timeline (the audit trail: who, why, before → after). Live.
import { useCallback, useState } from 'preact/hooks';
import { dashboardConfig, download, get } from './api.js';
import { controlJob } from './jobs.js';
import {
  ErrorNotice,
  Head,
  Field,
  Outcome,
  PRIORITY_NAMES,
  PrioritySelect,
  ProgressBar,
  StatusBadge,
  fmtDuration,
  fmtTime,
  html,
  jobActions,
  temporalLink,
  useAction,
  useAsync,
  useLiveReload,
  ReasonField,
} from './ui.js';

const ACTIONS = ['pause', 'resume', 'cancel', 'retry', 'delete'];
// Fields every event carries, or that the other columns show already.
const PLAIN_KEYS = new Set(['at', 'from', 'to', 'jobId', 'owner', 'batchId']);
const STATUS_AFTER = dashboardConfig.statusAfterEvent ?? {};

/** What else the event says, as one line: `priority 2 → 4`, or its own short fields. */
function detailsOf(event) {
  const data = event.data ?? {};
  const parts = [];
  if (event.type === 'JobReprioritized') parts.push(`priority ${data.from ?? '?'} → ${data.to ?? '?'}`);
  for (const [key, value] of Object.entries(data)) {
    if (PLAIN_KEYS.has(key) || value === null || value === undefined || typeof value === 'object') continue;
    parts.push(`${key}: ${String(value).slice(0, 80)}`);
  }
  return parts.slice(0, 5).join(' · ');
}

/** The events with the job's status before and after each (the projection's fold, replayed). */
function withStatuses(events) {
  let status;
  return events.map((event) => {
    const before = status;
    status = event.type === 'JobResumed' ? (event.data?.to ?? 'running') : (STATUS_AFTER[event.type] ?? status);
    return { event, change: before !== status ? `${before ?? '—'} → ${status}` : '' };
  });
}

function Timeline({ events }) {
  return html`<table class="timeline">
    <caption>
      Event timeline (oldest first)
    </caption>
    <${Head} columns=${['#', 'Time', 'Event', 'Actor', 'Reason', 'Status before → after', 'Details']} />
    <tbody>
      ${withStatuses(events).map(
        ({ event, change }) =>
          html`<tr key=${event.event_id} data-event-type=${event.type}>
            <td>${event.version}</td>
            <td>${fmtTime(event.recorded_at)}</td>
            <td>${event.type}</td>
            <td>${event.metadata?.actor ?? '—'}</td>
            <td>${event.metadata?.reason ?? ''}</td>
            <td class="change">${change}</td>
            <td class="change">${detailsOf(event)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function Files({ jobId }) {
  const files = useAsync(() => get(`/jobs/${encodeURIComponent(jobId)}/files`), [jobId]);
  const { outcome, run } = useAction();
  if (files.error) return html`<${ErrorNotice} error=${files.error} what="result files" />`;
  const list = files.data?.files ?? [];
  if (!list.length) return html`<p class="empty">No result files.</p>`;
  return html`<ul class="files">
      ${list.map(
        (file) =>
          html`<li key=${file.name}>
            <button
              type="button"
              class="link"
              onClick=${() => run(`Download ${file.name}`, () => download(new URL(file.download_url, location.href).pathname.replace(/^\/api\/v1/, ''), file.name))}
            >
              Download ${file.name}
            </button>
            <span class="sub">${file.size} bytes · ${file.content_type}</span>
          </li>`,
      )}
    </ul>
    <${Outcome} outcome=${outcome} />`;
}

export function JobPage({ jobId }) {
  const job = useAsync(() => get(`/jobs/${encodeURIComponent(jobId)}`), [jobId]);
  const events = useAsync(() => get(`/jobs/${encodeURIComponent(jobId)}/events`), [jobId]);
  const [reason, setReason] = useState('');
  const [priority, setPriority] = useState('3');
  const { outcome, busy, run } = useAction();

  const reloadAll = useCallback(() => {
    job.reload();
    events.reload();
  }, [job.reload, events.reload]);
  useLiveReload(reloadAll, 500, (change) => change.job_id === jobId);

  if (job.error && !job.data)
    return html`<h1 tabindex="-1">Job ${jobId}</h1>
      <${ErrorNotice} error=${job.error} what="the job" />`;
  const j = job.data;
  if (!j)
    return html`<h1 tabindex="-1">Job</h1>
      <p class="loading">Loading…</p>`;
  const allowed = jobActions(j.status);
  const act = (action) => {
    if (action === 'delete' && !window.confirm(`Delete ${j.name}?`)) return;
    void run(action, () => controlJob(j.id, action, { reason, priority })).then(() => {
      if (action === 'delete') {
        location.hash = '#/jobs';
        return;
      }
      job.reload();
      events.reload();
    });
  };
  const link = temporalLink(j.id);
  const fields = [
    ['Id', html`<code>${j.id}</code>`],
    ['Type', j.type],
    ['Priority', `${j.priority} ${PRIORITY_NAMES[j.priority] ?? ''}`],
    ['Owner', j.user_id],
    ['Pool', j.pool ? `${j.pool} (weight ${j.weight ?? 1})` : '—'],
    ['Batch', j.batch_id ? html`<a href=${`#/batches/${j.batch_id}`}>${j.batch_id}</a>` : '—'],
    ['Steps', `${j.completed_steps} of ${j.total_steps}${j.current_step !== null ? ` (running step ${j.current_step})` : ''}`],
    ['Attempts', `${j.attempts} of ${j.max_attempts}`],
    ['Created', fmtTime(j.created_at)],
    ['Started', fmtTime(j.started_at)],
    ['Finished', fmtTime(j.completed_at)],
    ['Duration', fmtDuration(j.duration)],
    ['Time left (estimate)', fmtDuration(j.estimated_remaining)],
    ...(j.next_retry_at ? [['Next retry', fmtTime(j.next_retry_at)]] : []),
    ...(j.scheduled_at ? [['Scheduled at', fmtTime(j.scheduled_at)]] : []),
    ...(j.blocked_by?.length ? [['Blocked by', j.blocked_by.join(', ')]] : []),
    ...(j.tags?.length ? [['Tags', j.tags.join(', ')]] : []),
    ...(j.error_message ? [['Error', `${j.error_type ? `${j.error_type}: ` : ''}${j.error_message}`]] : []),
  ];
  return html`<h1 tabindex="-1">${j.name} <${StatusBadge} status=${j.status} /></h1>
    <p class="crumbs">
      <a href="#/jobs">← All jobs</a
      >${link ? html` · <a href=${link} target="_blank" rel="noopener">Open in Temporal Web UI</a>` : null}
    </p>
    <section aria-labelledby="progress-title" class="card">
      <h2 id="progress-title">Progress</h2>
      <${ProgressBar} value=${j.progress} label="Job progress" />
      <p class="message" aria-live="polite">${j.message ?? ''}</p>
    </section>
    <section aria-labelledby="controls-title" class="card">
      <h2 id="controls-title">Controls</h2>
      <div class="row-form">
        <${ReasonField} id="job-reason" value=${reason} onChange=${setReason} />
        ${ACTIONS.filter((a) => allowed[a]).map(
          (action) =>
            html`<button type="button" class=${`action-${action}`} disabled=${busy} onClick=${() => act(action)}>
              ${action[0].toUpperCase() + action.slice(1)}
            </button>`,
        )}
        ${
          allowed.reprioritize
            ? html`<${Field} label="New priority" id="job-priority"
                  ><${PrioritySelect} id="job-priority" value=${priority} onChange=${setPriority}
                /><//>
                <button type="button" disabled=${busy} onClick=${() => act('reprioritize')}>Set priority</button>`
            : null
        }
      </div>
      <${Outcome} outcome=${outcome} />
    </section>
    <section aria-labelledby="fields-title" class="card">
      <h2 id="fields-title">Details</h2>
      <dl class="fields">
        ${fields.map(
          ([k, v]) =>
            html`<dt>${k}</dt>
              <dd>${v}</dd>`,
        )}
      </dl>
    </section>
    <section aria-labelledby="files-title" class="card">
      <h2 id="files-title">Result files</h2>
      <${Files} jobId=${j.id} key=${j.result_files?.join(',')} />
    </section>
    <section aria-labelledby="events-title" class="card">
      <h2 id="events-title">Events</h2>
      <${ErrorNotice} error=${events.error} what="the events" />
      <${Timeline} events=${events.data ?? []} />
    </section>`;
}
