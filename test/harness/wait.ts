// How long a test waits for a condition before it fails, and `until`, the poll that does the waiting. Generous on purpose: other suites and builds share the machine,
// and a wait that ends early only turns load into a red run. A healthy wait ends as soon as its condition holds.
// Also `alive(pid)`, the probe the process waits use.
import { readFileSync } from 'node:fs';

/** The deadline of every condition wait in the tests (ms). */
export const WAIT_MS = 30_000;

/** Poll `probe` until it returns something other than undefined/false, for at most `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = WAIT_MS,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * True while `pid` runs: signal 0 reaches it and it is not a zombie. A killed child stays a zombie until its parent
 * reaps it; /proc (Linux) tells the two apart, elsewhere signal 0 alone decides.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
