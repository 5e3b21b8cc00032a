// Failed jobs (the dead-letter view): the last error and attempts of each, retry one, retry or purge
// every job the filter selects. Reads GET /jobs/dead; an engine without it shows "not available".
import { useState } from 'preact/hooks';
import { currentUser, getOptional, post, query } from './api.js';
import {
  ErrorNotice,
  Field,
  Head,
  NotAvailable,
  Outcome,
  ReasonField,
  fmtTime,
  html,
  useAction,
  useAsync,
  useLiveReload,
  usePages,
} from './ui.js';

const PAGE_SIZE = 25;

export function FailedPage({ params }) {
  const admin = currentUser().role === 'admin';
  const [filters, setFilters] = useState({
    type: params.get('type') ?? '',
    tag: params.get('tag') ?? '',
    batch_id: params.get('batch_id') ?? '',
    owner: params.get('owner') ?? '',
  });
  const [draft, setDraft] = useState(filters);
  const pages = usePages();
  const [reason, setReason] = useState('');
  const { outcome, busy, run } = useAction();
  const page = useAsync(
    () => getOptional(`/jobs/dead${query({ ...filters, limit: PAGE_SIZE, cursor: pages.cursor })}`),
    [filters, pages.cursor],
  );
  useLiveReload(page.reload, 1000);

  const filterBody = () => ({
    ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v)),
    ...(reason ? { reason } : {}),
  });
  const retryOne = (job) =>
    void run(`Retry ${job.name}`, async () => {
      const r = await post('/jobs/dead/retry', { job_ids: [job.id], ...(reason ? { reason } : {}) });
      page.reload();
      return `Retried ${r.retried} job(s)`;
    });
  const retryAll = () =>
    void run('Retry all', async () => {
      const r = await post('/jobs/dead/retry', filterBody());
      page.reload();
      return `Retried ${r.retried} job(s)`;
    });
  const purge = () => {
    if (!window.confirm(`Delete every failed job the filter selects (${page.data?.total ?? '?'})?`)) return;
    void run('Purge', async () => {
      const r = await post('/jobs/dead/purge', filterBody());
      page.reload();
      return `Deleted ${r.deleted} job(s)`;
    });
  };
  const apply = (event) => {
    event.preventDefault();
    setFilters(draft);
    pages.reset();
  };
  const text = (key, label) =>
    html`<${Field} label=${label} id=${`dead-${key}`}
      ><input id=${`dead-${key}`} value=${draft[key]} onInput=${(e) => setDraft({ ...draft, [key]: e.currentTarget.value })}
    /><//>`;

  if (page.data?.unavailable)
    return html`<h1 tabindex="-1">Failed jobs</h1>
      <${NotAvailable} what="dead-letter list (GET /jobs/dead)" />`;
  const jobs = page.data?.jobs ?? [];
  return html`<h1 tabindex="-1">Failed jobs</h1>
    <form class="row-form" onSubmit=${apply} aria-label="Filter failed jobs">
      ${text('type', 'Type')} ${text('tag', 'Tag')} ${text('batch_id', 'Batch')} ${admin ? text('owner', 'Owner') : null}
      <button type="submit">Apply filters</button>
    </form>
    <div class="toolbar" role="group" aria-label="Actions on failed jobs">
      <${ReasonField} id="dead-reason" value=${reason} onChange=${setReason} />
      <span>${page.data?.total ?? 0} failed job(s) match</span>
      <button type="button" disabled=${busy || !jobs.length} onClick=${retryAll}>Retry all matching</button>
      <button type="button" class="danger" disabled=${busy || !jobs.length} onClick=${purge}>Purge all matching</button>
    </div>
    <${Outcome} outcome=${outcome} />
    <${ErrorNotice} error=${page.error} what="failed jobs" />
    <div class="table-wrap">
      <table>
        <caption class="sr-only">
          Failed jobs
        </caption>
        <${Head} columns=${['Name', 'Type', 'Last error', 'Attempts', 'Failed at', 'Owner', 'Actions']} />
        <tbody>
          ${jobs.map(
            (job) =>
              html`<tr key=${job.id} data-job-id=${job.id}>
                <td><a href=${`#/jobs/${job.id}`}>${job.name}</a></td>
                <td>${job.type}</td>
                <td class="error-text">${job.last_error ?? job.error_message ?? ''}</td>
                <td>${job.attempts}</td>
                <td>${fmtTime(job.failed_at ?? job.completed_at)}</td>
                <td>${job.user_id}</td>
                <td>
                  <button
                    type="button"
                    class="small"
                    disabled=${busy}
                    aria-label=${`retry ${job.name}`}
                    onClick=${() => retryOne(job)}
                  >
                    retry
                  </button>
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
      ${!page.loading && !jobs.length ? html`<p class="empty">No failed jobs.</p>` : null}
    </div>
    ${pages.pager(page.data?.next_cursor)}`;
}
