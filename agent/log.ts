// One line per event, level first. Under daemon(8) every line becomes one syslog message at one priority,
// so the level lives in the text (daemon(8) -S sends each line to syslog at one priority). Newlines inside a message are flattened.

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Log = { readonly [L in Level]: (message: string) => void };

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Build a logger that writes `level message` lines through `write`; messages below `min` are dropped. */
export function createLog(write: (line: string) => void, min: Level = 'info'): Log {
  const emit = (level: Level) => (message: string) => {
    if (ORDER[level] < ORDER[min]) return;
    write(`${level} ${message.replace(/[\r\n]+/g, ' ')}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** A logger that drops everything (tests, --json output). */
export const silentLog: Log = createLog(() => undefined);

/** `1 entry`, `3 entries`: a count with its noun, for log lines. */
export function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
