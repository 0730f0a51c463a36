// Stand-in for dist/routeagent.js in test/rcd, installed as <root>/usr/local/libexec/routeagent/routeagent.js.
// Records every run (argv, ppid, $ROUTEAGENT_STUB_MARK) and every signal in <root>/calls.jsonl, and answers as the
// config file says: { "invalid": [...] } makes `check` print those `path: message` lines and exit 2 (an invalid config),
// { "problems": [...] } makes it print `problem:` lines and exit 1 (a cluster or HAProxy is unreachable), { "status": { "text", "exit" } } and
// { "sync": { "text", "exit" } } are what `status` and `sync` print and exit with. `run` stays up until SIGTERM/SIGINT,
// then takes 300 ms (as if finishing a sync) and exits 0; SIGHUP and SIGUSR2 are only recorded.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '../../../..');
const record = (event) =>
  fs.appendFileSync(path.join(root, 'calls.jsonl'), `${JSON.stringify({ who: 'node', pid: process.pid, ...event })}\n`);

const args = process.argv.slice(2);
const [verb] = args;
const configPath = args[args.indexOf('--config') + 1];
record({ event: 'start', argv: args, ppid: process.ppid, mark: process.env.ROUTEAGENT_STUB_MARK });
const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));

const answer = (reply) => {
  process.stdout.write(reply?.text ?? '');
  process.exitCode = reply?.exit ?? 0;
};

switch (verb) {
  case 'run': {
    for (const sig of ['SIGHUP', 'SIGUSR2']) process.on(sig, () => record({ event: 'signal', signal: sig }));
    const stop = (sig) => {
      record({ event: 'signal', signal: sig });
      console.log(`info daemon: ${sig}: finishing the current sync, then exiting`);
      setTimeout(() => {
        record({ event: 'exit', code: 0 });
        process.exit(0);
      }, 300);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    setInterval(() => {}, 1 << 30);
    console.log('info daemon: started');
    record({ event: 'ready' });
    break;
  }
  case 'check': {
    const invalid = config.invalid ?? [];
    const problems = config.problems ?? [];
    for (const p of invalid) process.stderr.write(`${p}\n`);
    if (invalid.length) {
      process.exitCode = 2;
      break;
    }
    for (const p of problems) process.stderr.write(`problem: ${p}\n`);
    if (problems.length === 0) process.stdout.write('ok: config valid\n');
    process.exitCode = problems.length ? 1 : 0;
    break;
  }
  case 'status':
    answer(config.status);
    break;
  case 'sync':
    answer(config.sync);
    break;
  default:
    process.stderr.write(`routeagent: unknown command ${verb}\n`);
    process.exitCode = 2;
}
