// parseCommand: verbs, flags, defaults, and the usage errors that exit 2.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCommand } from '../agent/cli.js';
import { UsageError } from '../agent/errors.js';

const D = '/usr/local/etc/routeagent/config.json';
const parse = suite('parseCommand');
const rows: [string[], unknown][] = [
  [['run'], { verb: 'run', config: D }],
  [['sync'], { verb: 'sync', config: D, dryRun: false, json: false, force: false }],
  [['sync', '--dry-run', '--json', '--config', '/x.json'], { verb: 'sync', config: '/x.json', dryRun: true, json: true, force: false }],
  [['sync', '--force', '--config=/y.json'], { verb: 'sync', config: '/y.json', dryRun: false, json: false, force: true }],
  [['check', '-c', '/z.json'], { verb: 'check', config: '/z.json' }],
  [['status', '--json'], { verb: 'status', config: D, json: true, peer: false }],
  [['status', '--peer'], { verb: 'status', config: D, json: false, peer: true }],
  [['snippet'], { verb: 'snippet', config: D, target: 'pfsense' }],
  [['snippet', '--target', 'opnsense'], { verb: 'snippet', config: D, target: 'opnsense' }],
  [['snippet', '--target=haproxy', '-c', '/x.json'], { verb: 'snippet', config: '/x.json', target: 'haproxy' }],
  [['--help'], { verb: 'help' }],
  [['help'], { verb: 'help' }],
  [['--version'], { verb: 'version' }],
];
for (const [argv, want] of rows) parse(argv.join(' '), () => assert.equal(parseCommand(argv), want));

const errors: [string[], string][] = [
  [[], 'missing command'],
  [['deploy'], 'unknown command "deploy"'],
  [['sync', 'extra'], 'unexpected argument "extra"'],
  [['check', '--json'], 'check does not take --json'],
  [['status', '--dry-run'], 'status does not take --dry-run'],
  [['sync', '--target', 'haproxy'], 'sync does not take --target'],
  [['snippet', '--target', 'ipfire'], 'unknown target "ipfire" (valid: pfsense, opnsense, haproxy)'],
  [['sync', '--bogus'], "Unknown option '--bogus'"],
  [['sync', '--config'], "Option '-c, --config <value>' argument missing"],
];
for (const [argv, want] of errors) {
  parse(`usage error: ${argv.join(' ') || '(nothing)'}`, () => {
    try {
      parseCommand(argv);
      assert.unreachable('should throw');
    } catch (e) {
      assert.instance(e, UsageError);
      assert.is((e as Error).message, want);
    }
  });
}
parse.run();
