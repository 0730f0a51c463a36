// One row of the bench table, and the table itself (plain text that is also a Markdown table).

export type Row = {
  readonly section: string;
  readonly what: string;
  /** The measured value(s), already formatted: medians, p99, sizes. */
  readonly value: string;
  /** The ratio the goal is stated in, formatted ("1.12×"), or '' when the row has none. */
  readonly ratio: string;
  readonly goal: string;
  /** true: goal holds; false: it does not; null: no goal (context only). */
  readonly pass: boolean | null;
};

export function row(section: string, what: string, value: string, ratio = '', goal = '', pass: boolean | null = null): Row {
  return { section, what, value, ratio, goal, pass };
}

export function x(r: number, digits = 2): string {
  return Number.isFinite(r) ? `${r.toFixed(digits)}×` : 'n/a';
}

export function ms(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v >= 100 ? `${v.toFixed(0)} ms` : v >= 10 ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ms`;
}

export function mib(v: number): string {
  return `${v.toFixed(1)} MiB`;
}

export function renderTable(rows: readonly Row[]): string {
  const head = ['#', 'measure', 'median (and more)', 'ratio', 'goal', 'holds?'];
  const cells = rows.map((r) => [r.section, r.what, r.value, r.ratio, r.goal, r.pass === null ? '' : r.pass ? 'yes' : 'NO']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => `| ${c.map((s, i) => s.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
