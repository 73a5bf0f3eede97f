// lua-resty-kafka, the pure-Lua producer that OpenResty gateways log to Kafka with (Kong's and APISIX's kafka-logger
// plugins are built on it), as Debian packages it (lua-nginx-kafka 0.07) inside Debian's nginx with its Lua module:
// a protocol implementation of its own, speaking Metadata v0 and Produce v0-v2 with the message formats of Kafka 0.8
// (v0, v1) and 0.10 (v2), sync and async. nginx listens on 127.0.0.1 only and runs as one process, stopped by its pid.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { withCleanup } from '../helpers/cleanup.js';
import { freePort, poll, startProcess } from '../helpers/processes.js';
import { kcat } from '../helpers/kcat.js';
import { withTempDir } from '../helpers/temp-dir.js';

/** What each request to /produce does: N messages keyed k0..k4, each sent and answered with its offset (sync) or buffered then flushed (async). */
const PRODUCE_LUA = `
local producer = require "nginx.kafka.producer"
local args = ngx.req.get_uri_args()
local n = tonumber(args.n)
local failures = {}
local p = producer:new({ { host = "127.0.0.1", port = tonumber(args.port) } }, {
  api_version = tonumber(args.v), producer_type = args.type, required_acks = -1, flush_time = 100,
  error_handle = function (topic, partition, queue, index, err) failures[#failures + 1] = err end,
})
for i = 1, n do
  local key = "k" .. (i % 5)
  -- sync: the offset after the message (its own plus one), a 64-bit cdata that prints with an LL suffix
  local offset, err = p:send(args.topic, key, args.prefix .. "-" .. i)
  if not offset then
    ngx.say("error ", err)
    return
  end
  if args.type ~= "async" then ngx.say(key, " ", (tostring(offset):gsub("LL$", ""))) end
end
if args.type == "async" then
  p:flush()
  -- a flush the producer's own timer began may still be sending
  for _ = 1, 100 do
    if not p.flushing and p.ringbuffer:left_num() == 0 then break end
    ngx.sleep(0.05)
  end
  ngx.say(#failures == 0 and "flushed" or ("failed " .. table.concat(failures, ", ")))
end
`;

async function withNginx<T>(fn: (base: string) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const port = await freePort();
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(dir, sub));
    await writeFile(join(dir, 'produce.lua'), PRODUCE_LUA);
    await writeFile(join(dir, 'nginx.conf'), [
      'load_module /usr/lib/nginx/modules/ndk_http_module.so;',
      'load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;',
      'daemon off;',
      'master_process off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((sub) => `  ${sub === 'body' ? 'client_body' : sub}_temp_path ${join(dir, sub)};`),
      "  lua_package_path '/usr/share/lua/5.1/?.lua;;';",
      '  server {',
      `    listen 127.0.0.1:${port};`,
      `    location /produce { content_by_lua_file ${join(dir, 'produce.lua')}; }`,
      '  }',
      '}',
    ].join('\n') + '\n');
    const nginx = startProcess('nginx', ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf')]);
    const base = `http://127.0.0.1:${port}`;
    return withCleanup(async () => {
      await poll('nginx to serve, or to exit', async () => {
        if (nginx.child.exitCode !== null) throw new Error(`nginx exited ${nginx.child.exitCode}:\n${nginx.output()}`);
        return (await fetch(`${base}/nothing`, { signal: AbortSignal.timeout(5_000) })).status === 404 ? true : undefined;
      }, 20_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${nginx.output()}`);
      });
      return fn(base);
    }, nginx.stop);
  });
}

async function kcatRead(bootstrap: string, topic: string): Promise<string[]> {
  return (await kcat(['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %k %s %T\\n'])).split('\n').filter((l) => l !== '');
}

test('lua-resty-kafka in nginx: sync produce at v0, v1 and v2 answered with each offset, async produce flushed, all read back by kcat in order', async () => {
  await withBroker(async ({ bootstrap, port, broker }) => {
    await broker.createTopic('edge', 2, {});
    await withNginx(async (base) => {
      const produce = async (query: Record<string, string | number>) => {
        const res = await fetch(`${base}/produce?${new URLSearchParams({ port: String(port), topic: 'edge', ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) })}`);
        assert.equal(res.status, 200);
        return (await res.text()).trim().split('\n');
      };
      const acked: string[] = [];
      for (const v of [0, 1, 2]) acked.push(...(await produce({ v, n: 20, prefix: `v${v}` })));
      assert.equal(acked.length, 60);
      assert.ok(acked.every((l) => /^k[0-4] \d+$/.test(l)), acked.join('\n'));
      assert.deepEqual(await produce({ v: 2, n: 30, prefix: 'async', type: 'async' }), ['flushed']);
      const before = Date.now();
      const read = await kcatRead(bootstrap, 'edge');
      assert.equal(read.length, 90);
      const byPartition = new Map<string, string[][]>();
      for (const line of read) {
        const [partition, offset, key, value, timestamp] = line.split(' ') as [string, string, string, string, string];
        byPartition.set(partition, [...(byPartition.get(partition) ?? []), [offset, key, value, timestamp]]);
      }
      for (const [partition, records] of byPartition) {
        // each partition's offsets run from 0 without gaps, and its messages keep the order they were sent in
        assert.deepEqual(records.map(([offset]) => Number(offset)), records.map((_, i) => i), `partition ${partition}`);
        const sent = (prefix: string) => records.filter(([, , value]) => value!.startsWith(`${prefix}-`)).map(([, , value]) => Number(value!.split('-')[1]));
        for (const prefix of ['v0', 'v1', 'v2', 'async']) assert.deepEqual(sent(prefix), [...sent(prefix)].sort((a, b) => a - b), `${prefix} in order on ${partition}`);
      }
      // every key on one partition, as the client's crc32 partitioner put it; each sync send's offset is its record's
      const partitionOfKey = new Map<string, string>();
      for (const line of read) {
        const [partition, , key] = line.split(' ');
        assert.equal(partitionOfKey.get(key!) ?? partition, partition, `key ${key} on one partition`);
        partitionOfKey.set(key!, partition!);
      }
      const syncRecords = read.filter((l) => /^\d+ \d+ k\d v\d-/.test(l)).map((l) => {
        const [, offset, key] = l.split(' ');
        return `${key} ${Number(offset) + 1}`;
      });
      assert.deepEqual([...syncRecords].sort(), [...acked].sort());
      // magic 0 (v0, v1) has no timestamp: stored at its append time; magic 1 (v2) carries the client's, in whole seconds
      for (const line of read) {
        const [, , , value, timestamp] = line.split(' ');
        const ts = Number(timestamp);
        assert.ok(ts > before - 120_000 && ts <= Date.now(), `${value} at ${ts}`);
        if (value!.startsWith('v2-') || value!.startsWith('async-')) assert.equal(ts % 1000, 0, `${value}: the client's time in seconds`);
      }
    });
  });
});

test('lua-resty-kafka: a topic that does not exist (auto-creation off) is reported by the client, and nothing is stored', async () => {
  await withBroker(async ({ port, broker }) => {
    await withNginx(async (base) => {
      const res = await fetch(`${base}/produce?${new URLSearchParams({ port: String(port), topic: 'missing', v: '2', n: '1', prefix: 'x' })}`);
      assert.equal((await res.text()).trim(), 'error not found topic');
    });
    assert.equal(broker.logs.topics.has('missing'), false);
  }, { autoCreateTopics: false });
});
