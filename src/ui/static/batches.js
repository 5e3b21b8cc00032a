// Batches: the list, and one batch's progress per status, controls, report and retry of its failures.
import { useState } from 'preact/hooks';
import { call, get, post, query } from './api.js';
import {
  BATCH_STATUSES,
  ErrorNotice,
  Head,
  Field,
  Outcome,
  PrioritySelect,
  ProgressBar,
  StatusBadge,
  fmtDuration,
  fmtTime,
  html,
  temporalLink,
  useAction,
  useAsync,
  useLiveReload,
  ReasonField,
} from './ui.js';

const COUNTS = ['pending', 'running', 'paused', 'completed', 'failed', 'cancelled'];

export function BatchesPage() {
  const [status, setStatus] = useState('');
  const batches = useAsync(() => get(`/batches${query({ status, limit: 100 })}`), [status]);
  useLiveReload(batches.reload, 1000);
  return html`<h1 tabindex="-1">Batches</h1>
    <div class="row-form">
      <${Field} label="Status" id="batch-status">
        <select id="batch-status" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}>
          <option value="">any</option>
          ${BATCH_STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      <//>
    </div>
    <${ErrorNotice} error=${batches.error} what="batches" />
    <div class="table-wrap">
      <table>
        <caption class="sr-only">
          Batches, newest first
        </caption>
        <${Head} columns=${['Name', 'Status', 'Progress', 'Jobs', 'Failed', 'Owner', 'Created']} />
        <tbody>
          ${(batches.data ?? []).map(
            (b) =>
              html`<tr key=${b.id}>
                <td><a href=${`#/batches/${b.id}`}>${b.name}</a></td>
                <td><${StatusBadge} status=${b.status} /></td>
                <td><${ProgressBar} value=${b.progress.percentage} label=${`Progress of ${b.name}`} /></td>
                <td>${b.progress.total}</td>
                <td>${b.progress.failed}</td>
                <td>${b.user_id}</td>
                <td>${fmtTime(b.created_at)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      ${batches.data?.length === 0 ? html`<p class="empty">No batches.</p>` : null}
    </div>`;
}

function Report({ report }) {
  if (!report) return null;
  const d = report.durations;
  return html`<div class="report">
    <dl class="fields">
      <dt>Finished jobs measured</dt>
      <dd>${d.jobs}</dd>
      <dt>Mean</dt>
      <dd>${fmtDuration(d.mean)}</dd>
      <dt>p50 / p95 / p99</dt>
      <dd>${fmtDuration(d.p50)} / ${fmtDuration(d.p95)} / ${fmtDuration(d.p99)}</dd>
      <dt>Slowest</dt>
      <dd>${fmtDuration(d.max)}</dd>
    </dl>
    <h3>Slowest jobs</h3>
    ${
      report.slowest_jobs.length
        ? html`<ol>
            ${report.slowest_jobs.map((s) => html`<li><a href=${`#/jobs/${s.job_id}`}>${s.name}</a> — ${fmtDuration(s.duration)}</li>`)}
          </ol>`
        : html`<p class="empty">None finished yet.</p>`
    }
    <h3>Failures</h3>
    ${
      report.failed_jobs.length
        ? html`<table>
            <${Head} columns=${['Job', 'Status', 'Attempts', 'Error']} />
            <tbody>
              ${report.failed_jobs.map(
                (f) =>
                  html`<tr>
                    <td><a href=${`#/jobs/${f.job_id}`}>${f.name}</a></td>
                    <td><${StatusBadge} status=${f.status} /></td>
                    <td>${f.attempts}</td>
                    <td>${f.error_type ? `${f.error_type}: ` : ''}${f.error_message ?? ''}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="empty">No failures.</p>`
    }
  </div>`;
}

export function BatchPage({ batchId }) {
  const path = `/batches/${encodeURIComponent(batchId)}`;
  const report = useAsync(() => get(`${path}/report`), [batchId]);
  const [reason, setReason] = useState('');
  const [priority, setPriority] = useState('3');
  const { outcome, busy, run } = useAction();
  useLiveReload(report.reload, 2000);
  const b = report.data?.batch;
  if (report.error && !b)
    return html`<h1 tabindex="-1">Batch ${batchId}</h1>
      <${ErrorNotice} error=${report.error} what="the batch" />`;
  if (!b)
    return html`<h1 tabindex="-1">Batch</h1>
      <p class="loading">Loading…</p>`;
  const body = reason ? { reason } : {};
  const control = (label, action) =>
    void run(label, async () => (await action())?.message ?? `${label}: done`).then(() => report.reload());
  const finished = ['completed', 'failed', 'cancelled'].includes(b.status);
  const link = temporalLink(b.id);
  return html`<h1 tabindex="-1">${b.name} <${StatusBadge} status=${b.status} /></h1>
    <p class="crumbs">
      <a href="#/batches">← All batches</a> · <a href=${`#/jobs?batch_id=${encodeURIComponent(b.id)}`}>Its jobs</a>
      ${link ? html` · <a href=${link} target="_blank" rel="noopener">Open in Temporal Web UI</a>` : null}
    </p>
    <section class="card" aria-labelledby="batch-progress">
      <h2 id="batch-progress">Progress</h2>
      <${ProgressBar} value=${b.progress.percentage} label="Batch progress" />
      <ul class="counts">
        <li><span>total</span><strong>${b.progress.total}</strong></li>
        ${COUNTS.map((k) => html`<li class=${`status-${k}`}><span>${k}</span><strong>${b.progress[k]}</strong></li>`)}
      </ul>
      <p>
        Throughput ${b.progress.throughput === null ? '—' : `${b.progress.throughput} jobs/s`} · time left
        ${fmtDuration(b.progress.estimated_remaining)} · concurrency ${b.concurrency} · priority ${b.priority}
      </p>
    </section>
    <section class="card" aria-labelledby="batch-controls">
      <h2 id="batch-controls">Controls</h2>
      <div class="row-form">
        <${ReasonField} id="batch-reason" value=${reason} onChange=${setReason} />
        ${!finished ? html`<button type="button" disabled=${busy || b.status === 'paused'} onClick=${() => control('Pause', () => post(`${path}/pause`, body))}>Pause</button>` : null}
        ${b.status === 'paused' ? html`<button type="button" disabled=${busy} onClick=${() => control('Resume', () => post(`${path}/resume`, body))}>Resume</button>` : null}
        ${!finished ? html`<button type="button" disabled=${busy} onClick=${() => control('Cancel', () => post(`${path}/cancel`, body))}>Cancel</button>` : null}
        ${
          !finished
            ? html`<${Field} label="New priority" id="batch-priority"
                  ><${PrioritySelect} id="batch-priority" value=${priority} onChange=${setPriority}
                /><//>
                <button
                  type="button"
                  disabled=${busy}
                  onClick=${() => control('Set priority', async () => (await call('PUT', `${path}/priority`, { ...body, priority: Number(priority) })).body)}
                >
                  Set priority
                </button>`
            : null
        }
        ${
          finished && b.progress.failed > 0
            ? html`<button
                type="button"
                disabled=${busy}
                onClick=${() => control('Retry failed', () => post(`${path}/retry-failed`, body))}
              >
                Retry failed jobs
              </button>`
            : null
        }
      </div>
      <${Outcome} outcome=${outcome} />
    </section>
    <section class="card" aria-labelledby="batch-report">
      <h2 id="batch-report">Report</h2>
      <${Report} report=${report.data} />
    </section>`;
}
