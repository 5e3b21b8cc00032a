// Overview: jobs per status, throughput and failure rate over time (a uPlot chart), queue depth per
// pool and priority, and the workers. Refreshed by job changes on the live stream, not by a timer.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { get, getOptional } from './api.js';
import { ErrorNotice, Head, JOB_STATUSES, NotAvailable, PRIORITY_NAMES, fmtTime, html, useAsync, useLiveReload } from './ui.js';

function StatusCounts({ stats }) {
  return html`<ul class="counts" aria-label="Jobs per status">
    <li><span>total</span><strong>${stats.total_jobs}</strong></li>
    ${JOB_STATUSES.map(
      (s) =>
        html`<li class=${`status-${s}`}>
          <a href=${`#/jobs?status=${s}`}
            ><span>${s.replace('_', ' ')}</span><strong data-status=${s}>${stats[s] ?? 0}</strong></a
          >
        </li>`,
    )}
  </ul>`;
}

const SERIES = [
  { key: 'submitted', color: '#64748b' },
  { key: 'completed', color: '#15803d' },
  { key: 'failed', color: '#b91c1c' },
  { key: 'cancelled', color: '#a16207' },
];

function ThroughputChart({ series }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const buckets = series.buckets ?? [];
    const xs = buckets.map((b) => Date.parse(b.start) / 1000);
    const rate = buckets.map((b) =>
      b.completed + b.failed > 0 ? Math.round((1000 * b.failed) / (b.completed + b.failed)) / 10 : null,
    );
    const data = [xs, ...SERIES.map((s) => buckets.map((b) => b[s.key] ?? 0)), rate];
    if (plot.current) {
      plot.current.setData(data);
      return;
    }
    const width = Math.max(320, (box.current?.clientWidth ?? 640) - 8);
    plot.current = new uPlot(
      {
        width,
        height: 220,
        series: [
          {},
          ...SERIES.map((s) => ({ label: `${s.key} / ${series.bucket_seconds} s`, stroke: s.color, width: 2 })),
          { label: 'failure rate %', stroke: '#7c3aed', dash: [6, 4], scale: '%', width: 1.5 },
        ],
        axes: [{}, { label: 'jobs' }, { side: 1, scale: '%', label: 'failure %', grid: { show: false } }],
        scales: { '%': { range: [0, 100] } },
      },
      data,
      box.current,
    );
  }, [series]);
  useEffect(() => () => plot.current?.destroy(), []);
  const total = (key) => (series.buckets ?? []).reduce((sum, b) => sum + (b[key] ?? 0), 0);
  const minutes = Math.round(((series.buckets?.length ?? 0) * series.bucket_seconds) / 60);
  const summary = `Last ${minutes} min: ${SERIES.map((s) => `${total(s.key)} ${s.key}`).join(', ')}.`;
  return html`<figure class="chart">
    <div ref=${box} aria-hidden="true"></div>
    <figcaption>${summary}</figcaption>
  </figure>`;
}

function Queues({ stats, pools }) {
  return html`<div class="split">
    <table>
      <caption>
        Queued per pool
      </caption>
      <${Head} columns=${['Pool', 'Limit', 'Used', 'Running', 'Queued']} />
      <tbody>
        ${(pools ?? []).map(
          (p) =>
            html`<tr key=${p.name}>
              <td>${p.name}</td>
              <td>${p.limit}</td>
              <td>${p.used}</td>
              <td>${p.running}</td>
              <td>${p.queued}</td>
            </tr>`,
        )}
        ${
          pools
            ? null
            : Object.entries(stats.queued_by_pool ?? {}).map(
                ([name, n]) =>
                  html`<tr>
                    <td>${name}</td>
                    <td>—</td>
                    <td>—</td>
                    <td>—</td>
                    <td>${n}</td>
                  </tr>`,
              )
        }
      </tbody>
    </table>
    <table>
      <caption>
        Queued per priority
      </caption>
      <${Head} columns=${['Priority', 'Queued']} />
      <tbody>
        ${[4, 3, 2, 1].map(
          (p) =>
            html`<tr>
              <td>${p} ${PRIORITY_NAMES[p]}</td>
              <td>${stats.queued_by_priority?.[p] ?? 0}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function Workers({ workers, stats }) {
  if (!workers || workers.unavailable)
    return html`<p>${stats.active_workers} active of ${stats.total_workers} worker process(es) polling the task queues.</p>
      ${workers?.unavailable ? html`<${NotAvailable} what="worker list (GET /workers)" />` : null}`;
  return html`<table>
    <caption class="sr-only">
      Workers
    </caption>
    <${Head} columns=${['Identity', 'Host / pid', 'Task queues', 'Job types', 'Slots used / free', 'Last seen', 'Active']} />
    <tbody>
      ${workers.workers.map(
        (w) =>
          html`<tr key=${w.identity}>
            <td>${w.identity}</td>
            <td>${w.host ?? '—'} / ${w.pid ?? '—'}</td>
            <td>${w.task_queues.map((q) => `${q.name} (${q.type})`).join(', ')}</td>
            <td>${(w.job_types ?? []).join(', ')}</td>
            <td>${w.slots ? `${w.slots.used} / ${w.slots.free}` : '—'}</td>
            <td>${fmtTime(w.last_seen)}</td>
            <td>${w.active ? 'yes' : 'no'}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function OverviewPage() {
  const stats = useAsync(() => get('/jobs/stats'), []);
  const pools = useAsync(() => getOptional('/pools'), []);
  const series = useAsync(() => getOptional('/stats/timeseries?minutes=60&bucket_seconds=60'), []);
  const workers = useAsync(() => getOptional('/workers'), []);
  useLiveReload(stats.reload, 1000);
  useLiveReload(pools.reload, 2000);
  useLiveReload(series.reload, 10_000);
  useLiveReload(workers.reload, 10_000);
  const s = stats.data;
  return html`<h1 tabindex="-1">Overview</h1>
    <${ErrorNotice} error=${stats.error} what="the job counts" />
    ${
      s
        ? html`<section class="card" aria-labelledby="counts-title">
            <h2 id="counts-title">Jobs by status</h2>
            <${StatusCounts} stats=${s} />
          </section>`
        : null
    }
    <section class="card" aria-labelledby="chart-title">
      <h2 id="chart-title">Throughput and failure rate</h2>
      <${ErrorNotice} error=${series.error} what="the time series" />
      ${series.data?.unavailable ? html`<${NotAvailable} what="time series (GET /stats/timeseries)" />` : series.data ? html`<${ThroughputChart} series=${series.data} />` : null}
    </section>
    ${
      s
        ? html`<section class="card" aria-labelledby="queues-title">
              <h2 id="queues-title">Queues</h2>
              <${Queues} stats=${s} pools=${pools.data?.unavailable ? undefined : pools.data} />
            </section>
            <section class="card" aria-labelledby="workers-title">
              <h2 id="workers-title">Workers</h2>
              <${ErrorNotice} error=${workers.error} what="the workers" />
              <${Workers} workers=${workers.data} stats=${s} />
            </section>`
        : null
    }`;
}
