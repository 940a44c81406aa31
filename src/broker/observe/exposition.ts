/**
 * The Prometheus text exposition (format 0.0.4) of a prom-client registry: the same text
 * as prom-client's `registry.metrics()`, line for line, written with less work per sample.
 * prom-client collects (each family's `get()`, with its collect callback if any); this only
 * writes the lines.
 *
 * Why not `registry.metrics()` itself: per sample it builds label arrays, spreads and
 * filters them, and caches each sample's shared labels in a WeakMap under a fresh empty
 * object (about 190 entries per scrape, dead by the next, left for the collector), and V8
 * compiled its formatting functions in the broker's first minutes of scrapes for 50-60 ms
 * of CPU (`--trace-opt`: getMetricsAsString 35 ms, flattenSharedLabels 12, formatLabels 8),
 * paid by a young broker scraped once a second (issue 18's `idle` scenario).
 */
import type { Registry } from 'prom-client';

interface Sample {
  value: number;
  labels?: Record<string, string | number>;
  sharedLabels?: Record<string, string | number>;
  metricName?: string;
}

interface FamilyData {
  name: string;
  help: string;
  type: string;
  values?: Sample[];
}

interface Family {
  get(): Promise<FamilyData> | FamilyData;
  getForPromString?(): Promise<FamilyData> | FamilyData;
}

const escapeText = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A backslash, a newline or a double quote: what a label value must have escaped (most have none). */
const NEEDS_ESCAPE = /[\\\n"]/;

function labelValue(v: string | number): string {
  if (typeof v !== 'string') return `${v}`;
  return NEEDS_ESCAPE.test(v) ? escapeText(v).replace(/"/g, '\\"') : v;
}

/** prom-client's getValueAsString. */
function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return `${v}`;
}

/** `{a="1",b="2"}` or '': a sample's own labels, then its shared ones (a histogram's). */
function labelText(labels: Record<string, string | number> | undefined, shared: Record<string, string | number> | undefined): string {
  let s = '';
  if (labels !== undefined) {
    const keys = Object.keys(labels);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (shared !== undefined && Object.prototype.hasOwnProperty.call(shared, k)) continue;
      s += (s === '' ? '' : ',') + k + '="' + labelValue(labels[k]) + '"';
    }
  }
  if (shared !== undefined) {
    const keys = Object.keys(shared);
    for (let i = 0; i < keys.length; i++) s += (s === '' ? '' : ',') + keys[i] + '="' + labelValue(shared[keys[i]]) + '"';
  }
  return s === '' ? '' : '{' + s + '}';
}

/** Each family's `# HELP` and `# TYPE` lines and its escaped name, made once. */
const heads = new WeakMap<object, [head: string, name: string]>();

function head(family: object, data: FamilyData): [head: string, name: string] {
  let h = heads.get(family);
  if (h === undefined) {
    const name = escapeText(data.name);
    h = [`# HELP ${name} ${escapeText(data.help)}\n# TYPE ${name} ${data.type}`, name];
    heads.set(family, h);
  }
  return h;
}

/** One sample's line, after the newline that ends the one before. */
function sampleLine(v: Sample, name: string): string {
  const labels = v.labels;
  const shared = v.sharedLabels;
  const l = labels === undefined && shared === undefined ? '' : labelText(labels, shared);
  return '\n' + (v.metricName ?? name) + l + ' ' + valueText(v.value);
}

/**
 * The collected families' text. Apart from the async collection (exposition), in small
 * functions without for-in or iterators: V8 compiles this path in a young broker's first
 * scrapes, and compiled it for 26 ms of CPU as one async function (--trace-opt, a quiet
 * broker scraped once a second: exposition 16 ms, labelText 9), 9 ms in this form (render
 * 5.5-6, sampleLine 3.2).
 */
function render(families: Family[], data: FamilyData[]): string {
  let out = '';
  for (let i = 0; i < data.length; i++) {
    const d = data[i];
    const h = head(families[i], d);
    out += i > 0 ? '\n\n' + h[0] : h[0];
    const values = d.values;
    if (values !== undefined) for (let j = 0; j < values.length; j++) out += sampleLine(values[j], h[1]);
  }
  return out + '\n';
}

/**
 * The registry's families as prom-client's `metrics()` writes them in the Prometheus
 * format (families apart by a blank line). Every family is collected in one synchronous
 * pass before any is written, as prom-client does: values computed once per scrape
 * (process-metrics.ts perScrape) are shared by the families that read them. A registry with
 * default labels is written by prom-client itself.
 */
export async function exposition(registry: Registry): Promise<string> {
  const internal = registry as unknown as { _defaultLabels?: object };
  if (internal._defaultLabels !== undefined && Object.keys(internal._defaultLabels).length > 0) return registry.metrics();
  const families = registry.getMetricsAsArray() as unknown as Family[];
  const data = await Promise.all(families.map((f) => (typeof f.getForPromString === 'function' ? f.getForPromString() : f.get())));
  return render(families, data);
}
