// Parses real HAProxy 2.6.12 replies (recorded from a running haproxy, and the ones quoted in
// HAProxy 2.6) into data; every error text HAProxy 2.6 printed is a failure, described by its first line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createListMatcher,
  describeReply,
  isBackendDown,
  isOk,
  listsExactly,
  parseBackendStatus,
  parseMapList,
  parsePrepared,
  parseShowInfo,
  parseShowMap,
  parseShowStat,
  versionAtLeast,
} from '../../agent/core/reply.js';

// `show info` on haproxy 2.6.12-1+deb12u4 (Debian bookworm), recorded.
const SHOW_INFO =
  'Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nRelease_date: 2026/10/17\nNbthread: 2\nNbproc: 1\nProcess_num: 1\nPid: 6175\nUptime: 0d 0h00m00s\nUptime_sec: 0\nMemmax_MB: 0\nPoolAlloc_MB: 0\nPoolUsed_MB: 0\nPoolFailed: 0\nUlimit-n: 19999\nMaxsock: 19999\nMaxconn: 9985\nHard_maxconn: 9985\nCurrConns: 0\nCumConns: 2\nCumReq: 2\nMaxSslConns: 0\nCurrSslConns: 0\nCumSslConns: 0\nMaxpipes: 0\nPipesUsed: 0\nPipesFree: 0\nConnRate: 0\nConnRateLimit: 0\nMaxConnRate: 0\nSessRate: 0\nSessRateLimit: 0\nMaxSessRate: 0\nSslRate: 0\nSslRateLimit: 0\nMaxSslRate: 0\nSslFrontendKeyRate: 0\nSslFrontendMaxKeyRate: 0\nSslFrontendSessionReuse_pct: 0\nSslBackendKeyRate: 0\nSslBackendMaxKeyRate: 0\nSslCacheLookups: 0\nSslCacheMisses: 0\nCompressBpsIn: 0\nCompressBpsOut: 0\nCompressBpsRateLim: 0\nTasks: 19\nRun_queue: 0\nIdle_pct: 100\nnode: vm\nStopping: 0\nJobs: 4\nUnstoppable Jobs: 0\nListeners: 3\nActivePeers: 0\nConnectedPeers: 0\nDroppedLogs: 0\nBusyPolling: 0\nFailedResolutions: 0\nTotalBytesOut: 2804\nTotalSplicdedBytesOut: 0\nBytesOutRate: 2816\nDebugCommandsIssued: 0\nCumRecvLogs: 0\nBuild info: 2.6.12-1+deb12u4\nMemmax_bytes: 0\nPoolAlloc_bytes: 107528\nPoolUsed_bytes: 107528\nStart_time_sec: 1795561525\nTainted: 0\n\n';
// `show stat -1 2 -1` on the same haproxy running a config like test/harness/haproxy-config.ts writes, recorded.
const SHOW_STAT =
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,\nbe_app1,BACKEND,0,0,0,0,1,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,4,0,,0,,1,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,0,0,0,0,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\nbe_app2,BACKEND,0,0,0,0,1,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,5,0,,0,,1,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,0,0,0,0,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\nbe_default,BACKEND,0,0,0,0,999,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,6,0,,0,,1,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,0,0,0,0,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\nbe_tls1,BACKEND,0,0,0,0,1,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,7,0,,0,,1,0,,0,,,,,,,,,,,,,,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,roundrobin,,,,,,,0,0,0,,,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\nbe_tls2,BACKEND,0,0,0,0,1,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,8,0,,0,,1,0,,0,,,,,,,,,,,,,,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,roundrobin,,,,,,,0,0,0,,,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\nbe_tls_default,BACKEND,0,0,0,0,999,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,1,0,,1,9,0,,0,,1,0,,0,,,,,,,,,,,,,,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,roundrobin,,,,,,,0,0,0,,,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\n\n';
const SHOW_MAP_LIST =
  '# id (file) description\n' +
  "3 (/tmp/hx/maps/hosts.map) pattern loaded from file '/tmp/hx/maps/hosts.map' used by map at file 'h.cfg' line 26. curr_ver=1 next_ver=2 entry_cnt=3\n" +
  "4 (/tmp/hx/maps/sni.map) pattern loaded from file '/tmp/hx/maps/sni.map' used by map at file 'h.cfg' line 36. curr_ver=0 next_ver=0 entry_cnt=1\n" +
  '\n';
const UNKNOWN_MAP = 'Unknown map identifier. Please use #<id> or <file>.\n\n';

const info = suite('parseShowInfo');
info('reads Version, Pid and Start_time_sec', () => {
  assert.equal(parseShowInfo(SHOW_INFO), { version: '2.6.12-1+deb12u4', pid: 6175, startTimeSec: 1795561525 });
});
info('is undefined for a reply without a Version line', () => {
  assert.is(parseShowInfo(UNKNOWN_MAP), undefined);
  assert.is(parseShowInfo(''), undefined);
});
info.run();

const list = suite('parseMapList');
list('reads id, path, versions and entry count of each map', () => {
  assert.equal(parseMapList(SHOW_MAP_LIST), [
    { id: 3, path: '/tmp/hx/maps/hosts.map', currVer: 1, nextVer: 2, entryCount: 3 },
    { id: 4, path: '/tmp/hx/maps/sni.map', currVer: 0, nextVer: 0, entryCount: 1 },
  ]);
});
list('HAProxy before 2.4 prints no versions: the maps are still listed (versions 0), so the reload fallback is reached', () => {
  // src/map.c before 2.4: chunk_appendf(&trash, "%d (%s) %s\n", ...), no curr_ver/next_ver/entry_cnt.
  const reply =
    "# id (file) description\n0 (/m/hosts.map) pattern loaded from file '/m/hosts.map' used by map at file '/c.cfg' line 20\n\n";
  assert.equal(parseMapList(reply), [{ id: 0, path: '/m/hosts.map', currVer: 0, nextVer: 0 }]);
});
list('a config without maps lists none', () => {
  assert.equal(parseMapList('# id (file) description\n\n'), []);
});
list('is undefined for anything else', () => {
  assert.is(parseMapList(''), undefined); // HAProxy closed the connection: not a config without maps
  assert.is(parseMapList(UNKNOWN_MAP), undefined);
  assert.is(parseMapList('# id (file) description\ngarbage\n\n'), undefined);
});
list.run();

const show = suite('parseShowMap');
show('reads <ptr> <key> <value> lines', () => {
  assert.equal(parseShowMap('0x5649f3992d60 app1.example.test be_app1\n0x5649f3992df0 app2.example.test be_app2\n\n'), [
    { key: 'app1.example.test', backend: 'be_app1' },
    { key: 'app2.example.test', backend: 'be_app2' },
  ]);
});
show('keeps a value with spaces whole (the rest of the line)', () => {
  assert.equal(parseShowMap('0x7fdc4c046d90 new.example.test be_app2 \n\n'), [{ key: 'new.example.test', backend: 'be_app2 ' }]);
});
show('"\\n" is an empty map, and so is a version that does not exist', () => {
  assert.equal(parseShowMap('\n'), []);
});
show('a listing cut short (no closing empty line: HAProxy died mid-dump) is not a smaller map', () => {
  assert.is(parseShowMap('0x5649f3992d60 app1.example.test be_app1\n0x5649f3992df0 app2.example.test be_app2\n'), undefined);
  assert.is(parseShowMap('0x5649f3992d60 app1.example.test be_app1\n0x5649f3992df0 app2.exa'), undefined);
});
show('is undefined on an error text', () => {
  assert.is(parseShowMap(UNKNOWN_MAP), undefined);
});
show('reads every line as the plain regex reading does, odd lines included (random replies)', () => {
  // The reading parseShowMap must equal: each line minus one trailing CR through ENTRY_LINE, blank lines skipped.
  const byRegex = (reply: string) => {
    const entries = [];
    for (const raw of reply.split('\n')) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') continue;
      const m = /^0x[0-9a-f]+ (\S+) (.*)$/.exec(line);
      if (!m) return undefined;
      entries.push({ key: m[1]!, backend: m[2]! });
    }
    return entries.length > 0 && !reply.endsWith('\n\n') && !reply.endsWith('\r\n\r\n') ? undefined : entries;
  };
  const pieces = ['0x', 'f', 'g', ' ', '\t', '\r', '\n', '\u00a0', '\u2028', 'é', 'a.test', 'be a', '#'];
  let seed = 5;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * n); // the high bits: the low ones of this generator cycle
  };
  const valid = '0x1a a.test be_a\n0x2b b.test be_b x\n0x3c c.test \n\n';
  for (const odd of ['\r', '\n\r', '0x1 a b\r', '\r\n\r\n', '0x1 a b\r\n\r\n'])
    assert.equal(parseShowMap(odd), byRegex(odd), JSON.stringify(odd));
  let read = 0;
  for (let i = 0; i < 20_000; i++) {
    let reply = valid;
    for (let k = rand(3); k > 0; k--) {
      const at = rand(reply.length + 1);
      reply = rand(2) ? reply.slice(0, at) + pieces[rand(pieces.length)]! + reply.slice(at) : reply.slice(0, at) + reply.slice(at + 1);
    }
    const want = byRegex(reply);
    if (want) read++;
    assert.equal(parseShowMap(reply), want, JSON.stringify(reply));
  }
  assert.ok(read > 2000, `only ${read} replies were read`);
});
show.run();

const prepare = suite('parsePrepared');
prepare('reads the new version number, and the maps listed after it', () => {
  assert.equal(parsePrepared(`New version created: 2\n\n${SHOW_MAP_LIST}`), {
    version: 2,
    maps: [
      { id: 3, path: '/tmp/hx/maps/hosts.map', currVer: 1, nextVer: 2, entryCount: 3 },
      { id: 4, path: '/tmp/hx/maps/sni.map', currVer: 0, nextVer: 0, entryCount: 1 },
    ],
  });
  assert.equal(parsePrepared('New version created: 4294967295\n\n'), { version: 4294967295 });
});
prepare('a version without a listing after it: no maps', () => {
  assert.equal(parsePrepared('New version created: 1\n\nUnknown command.\n\n'), { version: 1 });
  assert.equal(parsePrepared('New version created: 1\n'), { version: 1 });
});
prepare('is undefined on an error text', () => {
  assert.is(parsePrepared(UNKNOWN_MAP), undefined);
  assert.is(parsePrepared(`${UNKNOWN_MAP}${SHOW_MAP_LIST}`), undefined);
});
prepare.run();

const stat = suite('parseShowStat');
stat('maps every backend to its mode, finding columns by header name', () => {
  assert.equal(
    [...parseShowStat(SHOW_STAT)!],
    [
      ['be_app1', 'http'],
      ['be_app2', 'http'],
      ['be_default', 'http'],
      ['be_tls1', 'tcp'],
      ['be_tls2', 'tcp'],
      ['be_tls_default', 'tcp'],
    ],
  );
});
stat('does not depend on column positions', () => {
  assert.equal([...parseShowStat('# mode,svname,pxname\nhttp,BACKEND,be_x\ntcp,s1,be_x\n\n')!], [['be_x', 'http']]);
});
stat('is undefined without a CSV header or without the columns it needs', () => {
  assert.is(parseShowStat(UNKNOWN_MAP), undefined);
  assert.is(parseShowStat('# pxname,svname\nbe_x,BACKEND\n\n'), undefined);
});
stat('parseBackendStatus: the status cell of each backend; DOWN and MAINT route nothing', () => {
  assert.equal(
    [...parseBackendStatus(SHOW_STAT)!].filter(([b]) => b.startsWith('be_tls')),
    [
      ['be_tls1', 'UP'],
      ['be_tls2', 'UP'],
      ['be_tls_default', 'UP'],
    ],
  );
  // Recorded on 2.6.12, cut to four columns: be_down's only server fails its check, be_maint's only server was `disable server`d
  // (the backend reads DOWN, not MAINT), be_up's server has no check, be_none has no server; a server row is never a backend.
  const checked =
    '# pxname,svname,status,mode\nbe_up,BACKEND,UP,tcp\nbe_down,s1,DOWN,tcp\nbe_down,BACKEND,DOWN,tcp\nbe_maint,BACKEND,DOWN,http\nbe_none,BACKEND,UP,http\n\n';
  assert.equal(
    [...parseBackendStatus(checked)!],
    [
      ['be_up', 'UP'],
      ['be_down', 'DOWN'],
      ['be_maint', 'DOWN'],
      ['be_none', 'UP'],
    ],
  );
  assert.equal(['UP', 'DOWN', 'MAINT', 'MAINT (via be_x/s1)', 'DOWN 1/2', 'UP 1/3', 'no check', 'NOLB', 'DRAIN'].filter(isBackendDown), [
    'DOWN',
    'MAINT',
    'MAINT (via be_x/s1)',
    'DOWN 1/2',
  ]);
  assert.is(parseBackendStatus(UNKNOWN_MAP), undefined);
  assert.is(parseBackendStatus('# pxname,svname,mode\nbe_x,BACKEND,tcp\n\n'), undefined);
});
stat.run();

const ok = suite('isOk and the known replies');
ok('a write command succeeded only on a reply of newlines', () => {
  assert.ok(isOk('\n'));
  assert.ok(isOk('\n\n'));
  assert.not.ok(isOk('')); // a payload over bufsize gives a zero-byte reply and adds nothing
  assert.not.ok(isOk(UNKNOWN_MAP));
  assert.not.ok(isOk('New version created: 1\n\n'));
});
ok('every error text HAProxy 2.6 printed is a failure, described by its first line', () => {
  const cases: [string, string][] = [
    [UNKNOWN_MAP, 'Unknown map identifier. Please use #<id> or <file>.'],
    [
      "Version number in the future, please use 'prepare map' before.\n\n",
      "Version number in the future, please use 'prepare map' before.",
    ],
    ['Version number out of range.\n\n', 'Version number out of range.'],
    ['Missing version number.\n\n', 'Missing version number.'],
    ['entry not found.\n\n', 'entry not found.'],
    ['Key not found.\n\n', 'Key not found.'],
    [
      "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n\n",
      "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload",
    ],
    [
      'Unknown command, but maybe one of the following ones is a better match:\n  add map\n\n',
      'Unknown command, but maybe one of the following ones is a better match:',
    ],
  ];
  for (const [reply, first] of cases) {
    assert.is(isOk(reply), false, reply);
    assert.is(describeReply(reply), first, reply);
  }
  assert.is(isOk('\n'), true);
});
ok('describeReply gives one line for operator messages', () => {
  assert.is(describeReply(UNKNOWN_MAP), 'Unknown map identifier. Please use #<id> or <file>.');
  assert.is(describeReply(''), 'empty reply (HAProxy closed the connection)');
  assert.is(describeReply('\n'), 'ok');
});
ok.run();

const version = suite('versionAtLeast');
version('compares the numeric dotted prefix', () => {
  const rows: [string, string, boolean][] = [
    ['2.6.12-1+deb12u4', '2.4', true],
    ['2.4.0', '2.4', true],
    ['2.4', '2.4', true],
    ['2.3.21', '2.4', false],
    ['2.2.1', '2.4', false],
    ['3.0-dev5', '2.4', true],
    ['10.0', '2.4', true],
    ['2.10.1', '2.4', true],
    ['garbage', '2.4', false],
  ];
  for (const [v, min, want] of rows) assert.is(versionAtLeast(v, min), want, `${v} >= ${min}`);
});
version.run();

const exact = suite('listsExactly: the raw-text check replaceMap runs before parsing');
const entries = [
  { key: 'app1.example.test', backend: 'be_app1' },
  { key: 'app2.example.test', backend: 'be_app2' },
];
const listing = '0x5649f3992d60 app1.example.test be_app1\n0x5649f3992df0 app2.example.test be_app2\n\n';
exact('true for the exact listing, in order, ending with the empty line', () => {
  assert.ok(listsExactly(listing, entries));
  assert.ok(listsExactly('\n', []));
  assert.ok(listsExactly('', []));
});
exact('false (so the caller parses and compares) for anything else', () => {
  const cases: [string, typeof entries][] = [
    [listing, [...entries].reverse()], // other order: a multiset compare decides
    [listing, entries.slice(0, 1)], // more listed than expected
    [listing, [...entries, { key: 'app3.example.test', backend: 'be_app3' }]], // fewer listed
    ['0x5649f3992d60 app1.example.test be_app1\r\n0x5649f3992df0 app2.example.test be_app2\r\n\n', entries], // CRLF
    ['0x5649F3992D60 app1.example.test be_app1\n0x5649f3992df0 app2.example.test be_app2\n\n', entries], // not HAProxy's hex
    ['0x app1.example.test be_app1\n0x5649f3992df0 app2.example.test be_app2\n\n', entries], // no pointer digits
    ['0x1 app1.example.test be_app1x\n0x2 app2.example.test be_app2\n\n', entries], // value longer
    ['0x1 app1.example.testx be_app1\n0x2 app2.example.test be_app2\n\n', entries], // key longer
    ['0x1 app1.example.test  be_app1\n0x2 app2.example.test be_app2\n\n', entries], // two blanks
    ['0x1 app1.example.test be_app1\n\n0x2 app2.example.test be_app2\n\n', entries], // a blank line inside
    ['Unknown map identifier. Please use #<id> or <file>.\n\n', entries],
    ['Unknown map identifier. Please use #<id> or <file>.\n\n', []],
    [listing.slice(0, -1), entries], // cut short: no empty line after the entries
  ];
  for (const [reply, want] of cases) assert.not.ok(listsExactly(reply, want), JSON.stringify([reply, want]));
});
exact('whenever it says true, parseShowMap reads exactly those entries (random replies)', () => {
  const pieces = ['0x1', '0xab', '0x', '0XAB', ' ', '  ', 'a.test', 'b.test', 'be_a', 'be_b', '\n', '\r', '\t', 'x'];
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const wants = [
    [],
    [{ key: 'a.test', backend: 'be_a' }],
    [
      { key: 'a.test', backend: 'be_a' },
      { key: 'b.test', backend: 'be_b' },
    ],
  ];
  let agreed = 0;
  for (let i = 0; i < 20_000; i++) {
    const want = wants[rand(wants.length)]!;
    const valid = `${want.map((e) => `0x${rand(2) ? 'ab' : '1'} ${e.key} ${e.backend}\n`).join('')}\n`;
    let reply = valid;
    if (rand(2)) {
      // mutate: insert a random piece somewhere
      const at = rand(reply.length + 1);
      reply = reply.slice(0, at) + pieces[rand(pieces.length)]! + reply.slice(at);
    }
    if (listsExactly(reply, want)) {
      agreed++;
      assert.equal(parseShowMap(reply), want, JSON.stringify(reply));
    }
  }
  assert.ok(agreed > 1000, `only ${agreed} replies were exact`);
});
exact('createListMatcher: the same verdict whatever pieces the reply arrives in', () => {
  const replies: [string, typeof entries][] = [
    [listing, entries],
    ['\n', []],
    [listing, entries.slice(0, 1)],
    [listing.slice(0, -1), entries],
    ['0x1 app1.example.test be_app1\n\n0x2 app2.example.test be_app2\n\n', entries],
    ['0x1 app1.example.test be_app1x\n0x2 app2.example.test be_app2\n\n', entries],
    [`${listing}\n\n`, entries],
    [`${listing}x\n`, entries],
  ];
  for (const [reply, want] of replies) {
    for (let a = 0; a <= reply.length; a++) {
      for (let b = a; b <= reply.length; b++) {
        const m = createListMatcher(want);
        for (const piece of [reply.slice(0, a), reply.slice(a, b), reply.slice(b)]) m.push(piece);
        assert.is(m.end(), listsExactly(reply, want), JSON.stringify([reply.slice(0, a), reply.slice(a, b), reply.slice(b)]));
      }
    }
  }
  assert.ok(listsExactly(`${listing}\n\n`, entries), 'more empty lines at the end are still the end');
});
exact.run();
