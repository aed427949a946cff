/**
 * The Kibana saved objects (NDJSON) and the Grafana dashboard (JSON) parse, and reference only
 * log fields and metrics the services really emit. EMITTED below is the single list; every entry
 * is checked against the services' source (metric definitions, log calls) or, for the ECS fields
 * the logger adds, against real log lines produced by the shared service code.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readText, rel, runOk } from './tools.ts';

type Owner = 'common' | 'gateway' | 'inference' | 'finetune';

/** Metrics: name → labels and the service whose code defines it. */
export const EMITTED_METRICS: Record<string, { type: 'counter' | 'gauge' | 'histogram'; labels: string[]; owner: Owner | 'prom-client' }> = {
  http_request_duration_seconds: { type: 'histogram', labels: ['method', 'route', 'status_code'], owner: 'common' },
  nst_inference_duration_seconds: { type: 'histogram', labels: ['model', 'version'], owner: 'inference' },
  nst_inference_image_pixels: { type: 'histogram', labels: ['model', 'version'], owner: 'inference' },
  nst_inference_queue_seconds: { type: 'histogram', labels: ['model'], owner: 'inference' },
  nst_inference_queue_depth: { type: 'gauge', labels: ['model'], owner: 'inference' },
  nst_inference_rejected_total: { type: 'counter', labels: ['model'], owner: 'inference' },
  nst_model_live_info: { type: 'gauge', labels: ['model', 'version'], owner: 'inference' },
  nst_model_load_seconds: { type: 'histogram', labels: ['model', 'version'], owner: 'inference' },
  nst_stylize_requests_total: { type: 'counter', labels: ['model', 'version', 'status'], owner: 'gateway' },
  nst_stylize_duration_seconds: { type: 'histogram', labels: ['model', 'version'], owner: 'gateway' },
  nst_feedback_total: { type: 'counter', labels: ['rating', 'model', 'version'], owner: 'gateway' },
  nst_upstream_errors_total: { type: 'counter', labels: ['model', 'reason'], owner: 'gateway' },
  nst_training_jobs: { type: 'gauge', labels: ['state'], owner: 'finetune' },
  nst_training_jobs_total: { type: 'counter', labels: ['model', 'state'], owner: 'finetune' },
  nst_training_step_seconds: { type: 'histogram', labels: ['model'], owner: 'finetune' },
  // prom-client's default process metrics (collectDefaultMetrics in services/common/src/httpService.ts)
  process_resident_memory_bytes: { type: 'gauge', labels: [], owner: 'prom-client' },
  process_cpu_seconds_total: { type: 'counter', labels: [], owner: 'prom-client' },
};
/** Labels every series carries: the registry's default label and Prometheus' target labels. */
const COMMON_LABELS = ['service', 'job', 'instance', 'namespace', 'pod', 'app'];

/** Log fields: ECS fields from the shared logger, and the services' own nst.* fields. */
export const EMITTED_LOG_FIELDS: Record<string, Owner | 'ecs'> = {
  '@timestamp': 'ecs',
  'log.level': 'ecs',
  message: 'ecs',
  'service.name': 'ecs',
  'ecs.version': 'ecs',
  'event.dataset': 'ecs',
  'http.request.method': 'ecs',
  'url.path': 'ecs',
  'http.response.status_code': 'ecs',
  reqId: 'ecs',
  'error.message': 'ecs',
  'nst.event': 'gateway',
  'nst.model': 'gateway',
  'nst.version': 'gateway',
  'nst.duration_ms': 'gateway',
  'nst.rating': 'gateway',
  'nst.job.id': 'finetune',
  'nst.job.state': 'finetune',
};

function sourceOf(owner: Owner): string {
  const dir = rel('services', owner, 'src');
  let text = '';
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.ts')) text += `${readFileSync(p, 'utf8')}\n`;
    }
  };
  if (existsSync(dir)) walk(dir);
  return text;
}
/** A service whose code is not on this branch yet (fine-tuning is written separately). */
const landed = (owner: Owner) => owner === 'common' || existsSync(rel('services', owner, 'src/main.ts'));

// ---------------------------------------------------------------- metrics in the source

describe('every metric in EMITTED_METRICS is defined by the service that owns it', () => {
  for (const [name, m] of Object.entries(EMITTED_METRICS)) {
    if (m.owner === 'prom-client') {
      it(`${name} (prom-client default metrics)`, () => {
        expect(sourceOf('common')).toMatch(/collectDefaultMetrics\(/);
      });
      continue;
    }
    const owner: Owner = m.owner;
    it.skipIf(!landed(owner))(`${name} in services/${owner}/src with labels ${m.labels.join(',')}`, () => {
      const src = sourceOf(owner);
      const at = src.search(new RegExp(`name:\\s*['"]${name}['"]`));
      expect(at, `no metric named ${name} in services/${m.owner}/src`).toBeGreaterThanOrEqual(0);
      const def = src.slice(at, at + 600);
      const labels = /labelNames:\s*\[([^\]]*)\]/.exec(def)?.[1]?.match(/['"]([^'"]+)['"]/g)?.map((x) => x.slice(1, -1)) ?? [];
      expect(labels).toEqual(m.labels);
      const cls = { counter: 'Counter', gauge: 'Gauge', histogram: 'Histogram' }[m.type];
      expect(src.slice(Math.max(0, at - 200), at)).toContain(cls);
    });
  }
  it('every series also carries the service label', () => {
    expect(sourceOf('common')).toMatch(/setDefaultLabels\(\{\s*service/);
  });
});

// ---------------------------------------------------------------- log fields

function flatten(o: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (o && typeof o === 'object' && !Array.isArray(o)) {
    for (const [k, v] of Object.entries(o)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.add(prefix);
  return out;
}

describe('every log field in EMITTED_LOG_FIELDS is really logged', () => {
  it('ECS fields: real log lines from the shared service code (request log, error)', async () => {
    const r = await runOk(rel('node_modules/.bin/tsx'), [rel('tests/deploy/fixtures/ecs-log-sample.ts')], { timeoutMs: 60_000 });
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const fields = new Set<string>();
    for (const l of lines) for (const k of flatten(JSON.parse(l))) fields.add(k);
    for (const [field, owner] of Object.entries(EMITTED_LOG_FIELDS)) if (owner === 'ecs') expect(fields, field).toContain(field);
  });

  for (const [field, owner] of Object.entries(EMITTED_LOG_FIELDS)) {
    if (owner === 'ecs') continue;
    it.skipIf(!landed(owner))(`${field} is logged by services/${owner}/src`, () => {
      const src = sourceOf(owner);
      const parts = field.split('.');
      const leaf = parts.at(-1)!;
      const parent = parts.at(-2)!;
      // Either the dotted key itself, or the nested object form: log.info({ nst: { …, model: … } }).
      const dotted = src.includes(`'${field}'`) || src.includes(`"${field}"`);
      const nested = new RegExp(`\\b${parent}\\s*:\\s*\\{[^}]*\\b${leaf}\\b\\s*[:,}]`).test(src);
      expect(dotted || nested, `${field} not found in services/${owner}/src`).toBe(true);
    });
  }
});

// ---------------------------------------------------------------- Grafana

const PROMQL_WORDS = new Set([
  'sum', 'avg', 'min', 'max', 'count', 'rate', 'irate', 'increase', 'histogram_quantile', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
  'and', 'or', 'unless', 'offset', 'bool', 'topk', 'bottomk', 'quantile', 'abs', 'clamp_min', 'clamp_max', 'delta', 'deriv', 'time', 'vector', 'label_replace',
  'avg_over_time', 'max_over_time', 'min_over_time', 'sum_over_time', 'le',
]);

export function promqlReferences(expr: string): { metrics: string[]; labels: string[] } {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const labels = new Set<string>();
  for (const m of noStrings.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)) for (const l of m[1]!.split(',').map((x) => x.trim()).filter(Boolean)) labels.add(l);
  for (const m of noStrings.matchAll(/\{([^}]*)\}/g)) for (const mm of m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(mm[1]!);
  const stripped = noStrings
    .replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const metrics = [...stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((t) => !PROMQL_WORDS.has(t) && !/^\d/.test(t));
  return { metrics: [...new Set(metrics)], labels: [...labels] };
}

function metricFamily(series: string): string | null {
  if (EMITTED_METRICS[series]) return series;
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  if (m && EMITTED_METRICS[m[1]!]?.type === 'histogram') return m[1]!;
  return null;
}

describe('Grafana dashboard', () => {
  const dash = JSON.parse(readText('k8s/monitoring/grafana/nst-dashboard.json')) as { title: string; uid: string; panels: { title: string; targets: { expr: string; legendFormat?: string }[] }[] };

  it('parses and has panels with queries', () => {
    expect(dash.uid).toBeTruthy();
    expect(dash.panels.length).toBeGreaterThanOrEqual(8);
    for (const p of dash.panels) expect(p.targets.length, p.title).toBeGreaterThan(0);
  });

  it('queries only metrics and labels the services emit', () => {
    const used = new Set<string>();
    for (const p of dash.panels) {
      for (const t of p.targets) {
        const { metrics, labels } = promqlReferences(t.expr);
        expect(metrics.length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
        const allowed = new Set([...COMMON_LABELS]);
        for (const s of metrics) {
          const fam = metricFamily(s);
          expect(fam, `${p.title}: ${s} is not emitted by any service`).not.toBeNull();
          used.add(fam!);
          for (const l of EMITTED_METRICS[fam!]!.labels) allowed.add(l);
          if (s.endsWith('_bucket')) allowed.add('le');
        }
        for (const l of labels) expect(allowed, `${p.title}: label ${l} in ${t.expr}`).toContain(l);
        for (const m of (t.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) expect(allowed, `${p.title}: legend label ${m[1]}`).toContain(m[1]);
      }
    }
    // The dashboard covers the list: inference time and pixels, queue, feedback, training.
    for (const m of ['nst_inference_duration_seconds', 'nst_inference_image_pixels', 'nst_inference_queue_seconds', 'nst_feedback_total', 'nst_training_jobs', 'nst_training_step_seconds', 'nst_stylize_requests_total', 'http_request_duration_seconds']) expect(used).toContain(m);
  });

  it('selects models by label through a "model" variable, so a new model appears without an edit', () => {
    const vars = (dash as unknown as { templating: { list: { name: string; type: string; query?: { query: string } | string; includeAll?: boolean; multi?: boolean }[] } }).templating.list;
    const model = vars.find((v) => v.name === 'model')!;
    expect(model.type).toBe('query');
    expect(typeof model.query === 'string' ? model.query : model.query?.query).toMatch(/^label_values\(nst_\w+, model\)$/);
    expect(model.includeAll && model.multi).toBe(true);
    for (const p of dash.panels) {
      for (const t of p.targets) {
        for (const s of promqlReferences(t.expr).metrics) {
          const fam = metricFamily(s)!;
          if (!EMITTED_METRICS[fam]!.labels.includes('model')) continue;
          // Every selector of a per-model metric filters by the variable.
          for (const sel of t.expr.matchAll(new RegExp(`\\b${s}\\b(\\{[^}]*\\})?`, 'g'))) expect(sel[1] ?? '', `${p.title}: ${s}`).toContain('model=~"$model"');
        }
      }
    }
  });

  it('the reference checker catches an unknown metric and label', () => {
    expect(promqlReferences('sum by (model) (rate(nst_made_up_total{color="red"}[5m]))')).toEqual({ metrics: ['nst_made_up_total'], labels: ['model', 'color'] });
    expect(metricFamily('nst_made_up_total')).toBeNull();
    expect(metricFamily('nst_inference_duration_seconds_bucket')).toBe('nst_inference_duration_seconds');
  });
});

// ---------------------------------------------------------------- Kibana

type SavedObject = { type: string; id: string; attributes: Record<string, unknown>; references: { name: string; type: string; id: string }[] };

export function kibanaFieldReferences(objs: SavedObject[]): Map<string, string> {
  const fields = new Map<string, string>(); // field → where
  for (const o of objs) {
    if (o.type === 'index-pattern') fields.set(String(o.attributes.timeFieldName), o.id);
    if (o.type === 'visualization') {
      const vis = JSON.parse(String(o.attributes.visState)) as { aggs: { params?: { field?: string } }[] };
      for (const a of vis.aggs) if (a.params?.field) fields.set(a.params.field, o.id);
    }
    const meta = o.attributes.kibanaSavedObjectMeta as { searchSourceJSON?: string } | undefined;
    if (meta?.searchSourceJSON) {
      const q = (JSON.parse(meta.searchSourceJSON) as { query?: { query?: string } }).query?.query ?? '';
      const noStrings = q.replace(/"(?:[^"\\]|\\.)*"/g, '""');
      for (const m of noStrings.matchAll(/([A-Za-z@_][\w.@]*)\s*:/g)) fields.set(m[1]!, o.id);
    }
  }
  return fields;
}

describe('Kibana saved objects', () => {
  const lines = readText('k8s/elk/kibana/nst-dashboard.ndjson').split('\n').filter((l) => l.trim());
  const objs = lines.map((l) => JSON.parse(l) as SavedObject);

  it('parse as NDJSON: an index pattern, visualizations and a dashboard whose references resolve', () => {
    const ids = new Set(objs.map((o) => `${o.type}:${o.id}`));
    expect(objs.filter((o) => o.type === 'index-pattern').map((o) => o.attributes.title)).toEqual(['nst-logs-*']);
    const dash = objs.find((o) => o.type === 'dashboard')!;
    const panels = JSON.parse(String(dash.attributes.panelsJSON)) as { panelRefName: string }[];
    for (const p of panels) expect(dash.references.map((r) => r.name)).toContain(p.panelRefName);
    for (const o of objs) for (const r of o.references) expect(ids, `${o.id} → ${r.type}:${r.id}`).toContain(`${r.type}:${r.id}`);
    // Logstash writes the index the data view reads.
    expect(readText('k8s/elk/logstash/pipeline.conf')).toContain('index => "nst-logs-%{+YYYY.MM.dd}"');
  });

  it('reference only fields the services log', () => {
    const refs = kibanaFieldReferences(objs);
    expect(refs.size).toBeGreaterThan(5);
    for (const [field, where] of refs) expect(Object.keys(EMITTED_LOG_FIELDS), `${where} uses ${field}`).toContain(field);
  });

  it('cover requests and latency by model and version, errors, feedback by rating, training jobs', () => {
    const refs = kibanaFieldReferences(objs);
    for (const f of ['nst.model', 'nst.version', 'nst.duration_ms', 'log.level', 'error.message', 'nst.rating', 'nst.job.state']) expect(refs.has(f), f).toBe(true);
    const queries = objs.map((o) => JSON.stringify(o.attributes));
    for (const e of ['stylize', 'feedback', 'training_job']) expect(queries.some((q) => q.includes(`nst.event : \\\\\\"${e}\\\\\\"`)), e).toBe(true);
  });

  it('the field checker catches an unknown field', () => {
    const bad: SavedObject = { type: 'visualization', id: 'x', references: [], attributes: { visState: JSON.stringify({ aggs: [{ params: { field: 'nst.colour' } }] }), kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: 'user.name : "a"' } }) } } };
    expect([...kibanaFieldReferences([bad]).keys()].sort()).toEqual(['nst.colour', 'user.name']);
  });
});
