// Jobs: the filtered, paged table with live status and progress, per-row and bulk controls, and a
// submit form.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { call, currentUser, post, query } from './api.js';
import {
  ErrorNotice,
  Field,
  Head,
  JOB_STATUSES,
  Outcome,
  PrioritySelect,
  ProgressBar,
  ReasonField,
  StatusBadge,
  fmtTime,
  html,
  jobActions,
  useAction,
  useAsync,
  useLiveReload,
  usePages,
} from './ui.js';

const PAGE_SIZE = 25;
const FILTERS = ['status', 'type', 'priority', 'batch_id', 'owner', 'tag', 'name'];
const ROW_ACTIONS = ['pause', 'resume', 'cancel', 'retry', 'delete'];
const BULK_ACTIONS = ['pause', 'resume', 'cancel', 'retry', 'delete'];

/** One control of one job through the REST API (the same calls the API's clients make). */
export function controlJob(jobId, action, { reason, priority } = {}) {
  const body = reason ? { reason } : {};
  if (action === 'delete') return call('DELETE', `/jobs/${encodeURIComponent(jobId)}`).then(() => `Deleted ${jobId}`);
  if (action === 'reprioritize')
    return call('PUT', `/jobs/${encodeURIComponent(jobId)}/priority`, { ...body, priority: Number(priority) }).then(
      () => `Priority of ${jobId} set to ${priority}`,
    );
  return post(`/jobs/${encodeURIComponent(jobId)}/${action}`, body).then((r) => r?.message ?? `${action}: done`);
}

const confirmDelete = (what) => window.confirm(`Delete ${what}? Its row and result files go; the log keeps a tombstone.`);

function SubmitForm({ onSubmitted }) {
  const [name, setName] = useState('demo');
  const [type, setType] = useState('sleep');
  const [priority, setPriority] = useState('2');
  const [input, setInput] = useState('{"steps": 5, "step_ms": 1000}');
  const { outcome, busy, run } = useAction();
  const submit = (event) => {
    event.preventDefault();
    void run('Submit', async () => {
      let parsed;
      try {
        parsed = input.trim() ? JSON.parse(input) : undefined;
      } catch (error) {
        throw new Error(`input is not JSON (${error.message})`, { cause: error });
      }
      const result = await post('/jobs/submit', { name, type, priority: Number(priority), input: parsed });
      onSubmitted();
      return `Submitted ${result.job_id}`;
    });
  };
  return html`<details class="submit">
    <summary>Submit a job</summary>
    <form onSubmit=${submit} class="row-form">
      <${Field} label="Job name" id="submit-name"
        ><input id="submit-name" required value=${name} onInput=${(e) => setName(e.currentTarget.value)}
      /><//>
      <${Field} label="Job type" id="submit-type"
        ><input id="submit-type" required value=${type} onInput=${(e) => setType(e.currentTarget.value)}
      /><//>
      <${Field} label="Job priority" id="submit-priority"
        ><${PrioritySelect} id="submit-priority" label="Job priority" value=${priority} onChange=${setPriority}
      /><//>
      <${Field} label="Input (JSON)" id="submit-input">
        <textarea id="submit-input" rows="2" value=${input} onInput=${(e) => setInput(e.currentTarget.value)}></textarea>
      <//>
      <button type="submit" disabled=${busy}>Submit</button>
    </form>
    <${Outcome} outcome=${outcome} />
  </details>`;
}

function Filters({ filters, onChange }) {
  const admin = currentUser().role === 'admin';
  const [draft, setDraft] = useState(filters);
  useEffect(() => setDraft(filters), [filters]);
  const set = (key) => (e) => setDraft({ ...draft, [key]: e.currentTarget.value });
  const apply = (event) => {
    event.preventDefault();
    onChange(draft);
  };
  const text = (key, label, placeholder) =>
    html`<${Field} label=${label} id=${`filter-${key}`}
      ><input id=${`filter-${key}`} value=${draft[key] ?? ''} placeholder=${placeholder} onInput=${set(key)}
    /><//>`;
  return html`<form class="filters row-form" onSubmit=${apply} aria-label="Filter jobs">
    <${Field} label="Status" id="filter-status">
      <select id="filter-status" value=${draft.status ?? ''} onChange=${set('status')}>
        <option value="">any</option>
        <option value="waiting">waiting (not started)</option>
        ${JOB_STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
    <//>
    ${text('type', 'Type', 'sleep')}
    <${Field} label="Priority" id="filter-priority">
      <${PrioritySelect}
        id="filter-priority"
        includeAny
        value=${draft.priority}
        onChange=${(v) => setDraft({ ...draft, priority: v })}
      />
    <//>
    ${text('batch_id', 'Batch', 'batch_…')} ${admin ? text('owner', 'Owner', 'user id') : null} ${text('tag', 'Tag', '')}
    ${text('name', 'Name contains', '')}
    <button type="submit">Apply filters</button>
    <button type="button" class="secondary" onClick=${() => onChange({})}>Clear</button>
  </form>`;
}

export function JobsPage({ params }) {
  const initial = useMemo(() => Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ''])), [params]);
  const [filters, setFilters] = useState(initial);
  const pages = usePages();
  const [selected, setSelected] = useState(new Set());
  const [reason, setReason] = useState('');
  const [bulkPriority, setBulkPriority] = useState('3');
  const { outcome, busy, run } = useAction();
  const page = useAsync(async () => {
    const { body, response } = await call('GET', `/jobs/list${query({ ...filters, limit: PAGE_SIZE, cursor: pages.cursor })}`);
    return { jobs: body, next: response.headers.get('x-next-cursor') };
  }, [filters, pages.cursor]);

  // Live: every change of a job the caller may see reloads this page (at most once a second).
  useLiveReload(page.reload, 1000);

  const jobs = page.data?.jobs ?? [];
  const setFilter = (next) => {
    setFilters(next);
    pages.reset();
    setSelected(new Set());
  };
  const toggle = (id) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const allSelected = jobs.length > 0 && jobs.every((j) => selected.has(j.id));
  const toggleAll = () => setSelected(allSelected ? new Set() : new Set(jobs.map((j) => j.id)));
  const act = (job, action, priority) => {
    if (action === 'delete' && !confirmDelete(job.name)) return;
    void run(`${action} ${job.name}`, () => controlJob(job.id, action, { reason, priority })).then(() => page.reload());
  };
  const bulk = (action) => {
    const ids = [...selected];
    if (action === 'delete' && !confirmDelete(`${ids.length} job(s)`)) return;
    void run(`Bulk ${action}`, async () => {
      const body = {
        action,
        ids,
        ...(reason ? { reason } : {}),
        ...(action === 'reprioritize' ? { priority: Number(bulkPriority) } : {}),
      };
      const result = await post('/jobs/bulk', body);
      setSelected(new Set());
      page.reload();
      const failures = result.results.filter((r) => !r.success).map((r) => `${r.job_id}: ${r.error}`);
      return `Bulk ${action}: ${result.succeeded} of ${result.matched} succeeded${failures.length ? ` (${failures.slice(0, 3).join('; ')})` : ''}`;
    });
  };

  return html`<h1 tabindex="-1">Jobs</h1>
    <${SubmitForm} onSubmitted=${page.reload} />
    <${Filters} filters=${filters} onChange=${setFilter} />
    <div class="toolbar" role="group" aria-label="Actions on jobs">
      <${ReasonField} id="action-reason" value=${reason} onChange=${setReason} />
      <span class="selection" aria-live="polite">${selected.size} selected</span>
      ${BULK_ACTIONS.map(
        (action) =>
          html`<button type="button" disabled=${!selected.size || busy} onClick=${() => bulk(action)}>
            ${action[0].toUpperCase() + action.slice(1)} selected
          </button>`,
      )}
      <${PrioritySelect} id="bulk-priority" label="Priority for selected" value=${bulkPriority} onChange=${setBulkPriority} />
      <button type="button" disabled=${!selected.size || busy} onClick=${() => bulk('reprioritize')}>
        Set priority of selected
      </button>
    </div>
    <${Outcome} outcome=${outcome} />
    <${ErrorNotice} error=${page.error} what="jobs" />
    <div class="table-wrap">
      <table class="jobs">
        <caption class="sr-only">
          Jobs, newest first
        </caption>
        <${Head}
          columns=${[
            html`<input
              type="checkbox"
              aria-label="Select all jobs on this page"
              checked=${allSelected}
              onChange=${toggleAll}
            />`,
            'Name',
            'Status',
            'Type',
            'Priority',
            'Progress',
            'Owner',
            'Created',
            'Actions',
          ]}
        />
        <tbody>
          ${jobs.map((job) => {
            const allowed = jobActions(job.status);
            return html`<tr key=${job.id} data-job-id=${job.id}>
              <td>
                <input
                  type="checkbox"
                  aria-label=${`Select ${job.name}`}
                  checked=${selected.has(job.id)}
                  onChange=${() => toggle(job.id)}
                />
              </td>
              <td>
                <a href=${`#/jobs/${job.id}`}>${job.name}</a
                >${job.batch_id ? html`<div class="sub">batch ${job.batch_id.slice(0, 14)}…</div>` : null}
              </td>
              <td><${StatusBadge} status=${job.status} /></td>
              <td>${job.type}</td>
              <td>
                ${
                  allowed.reprioritize
                    ? html`<${PrioritySelect}
                        label=${`Priority of ${job.name}`}
                        value=${String(job.priority)}
                        onChange=${(p) => act(job, 'reprioritize', p)}
                      />`
                    : job.priority
                }
              </td>
              <td><${ProgressBar} value=${job.progress} label=${`Progress of ${job.name}`} /></td>
              <td>${job.user_id}</td>
              <td>${fmtTime(job.created_at)}</td>
              <td class="actions">
                ${ROW_ACTIONS.filter((a) => allowed[a]).map(
                  (action) =>
                    html`<button
                      type="button"
                      class=${`small action-${action}`}
                      disabled=${busy}
                      aria-label=${`${action} ${job.name}`}
                      onClick=${() => act(job, action)}
                    >
                      ${action}
                    </button>`,
                )}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
      ${!page.loading && jobs.length === 0 ? html`<p class="empty">No jobs match.</p>` : null}
    </div>
    ${pages.pager(page.data?.next)}`;
}
