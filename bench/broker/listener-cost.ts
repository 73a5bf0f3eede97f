// What a listener's security costs the broker: librdkafka's rdkafka_performance produces 1 KiB messages (acks=all, one
// partition, linger.ms=5) to a `sluice start` broker that is plaintext, plaintext with ACLs on (an ACL on the topic
// decides every produce), plaintext with client quotas that apply to the producer but never throttle it (its bytes and
// its requests' time counted at every request), TLS (SSL), and TLS with SCRAM-SHA-512 (SASL_SSL), the cases alternating within each
// repetition, each after the page cache is warmed. Prints MB/s and the broker's CPU seconds per GiB produced, per run.
//   npm run bench:listeners -- [--messages 1000000] [--repeat 3]
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Admin } from '../../src/admin/admin.js';
import { AclOperation, AclPermission, PatternType, ResourceType } from '../../src/protocol/acl.js';
import type { SaslLogin } from '../../src/admin/sasl-client.js';
import { rdkafkaPerformance } from '../compare/processes.js';
import { cpuSeconds, startServer } from '../compare/servers.js';
import { warmPageCache } from '../warm-pages.js';

const { values: options } = parseArgs({ options: { messages: { type: 'string', default: '1000000' }, repeat: { type: 'string', default: '3' }, port: { type: 'string', default: '19095' } } });
const MESSAGES = Number(options.messages);
const MESSAGE_BYTES = 1024;
const PORT = Number(options.port);
const TLS_DIR = fileURLToPath(new URL('../../../test/helpers/fixtures/tls/', import.meta.url));
const ADMIN: SaslLogin = { mechanism: 'SCRAM-SHA-512', username: 'bench', password: 'bench-secret' };

interface Case {
  name: string;
  /** `sluice start` flags, given the run's directory. */
  flags: (dir: string) => Promise<string[]>;
  /** rdkafka_performance's properties. */
  client: Record<string, string>;
  login: SaslLogin | null;
  tls: boolean;
}

const tlsFlags = ['--tls-cert', join(TLS_DIR, 'server.pem'), '--tls-key', join(TLS_DIR, 'server.key')];
const tlsClient = { 'security.protocol': 'SSL', 'ssl.ca.location': join(TLS_DIR, 'ca.pem') };
const CASES: Case[] = [
  { name: 'plaintext', flags: async () => [], client: {}, login: null, tls: false },
  { name: 'plaintext, ACLs', flags: async () => ['--acls', 'true', '--allow-everyone-if-no-acl-found', 'true'], client: {}, login: null, tls: false },
  { name: 'plaintext, quotas', flags: async () => [], client: {}, login: null, tls: false },
  { name: 'SSL', flags: async () => tlsFlags, client: tlsClient, login: null, tls: true },
  {
    name: 'SASL_SSL',
    flags: async (dir) => {
      const users = join(dir, 'users.json');
      await writeFile(users, JSON.stringify({ [ADMIN.username]: ADMIN.password }));
      return [...tlsFlags, '--sasl-users', users];
    },
    client: { ...tlsClient, 'security.protocol': 'SASL_SSL', 'sasl.mechanism': ADMIN.mechanism, 'sasl.username': ADMIN.username, 'sasl.password': ADMIN.password },
    login: ADMIN,
    tls: true,
  },
];

const rdkafka = execFileSync('bash', [fileURLToPath(new URL('../../../bench/tools/build-rdkafka-performance.sh', import.meta.url))], { encoding: 'utf8' }).trim();

async function run(c: Case): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-listener-cost-'));
  try {
    const server = await startServer('sluice', dir, PORT, await c.flags(dir));
    try {
      const admin = await Admin.connect(`127.0.0.1:${PORT}`, c.login, c.tls ? { ca: await readFile(join(TLS_DIR, 'ca.pem')) } : null);
      try {
        await admin.createTopic('perf', 1, {});
        if (c.name.includes('ACLs')) {
          // the topic has an ACL, so each produce is decided by a match (with none, the allow-everyone rule answers first)
          await admin.createAcls([{ resourceType: ResourceType.TOPIC, resourceName: 'perf', patternType: PatternType.LITERAL, principal: 'User:ANONYMOUS', host: '*', operation: AclOperation.WRITE, permission: AclPermission.ALLOW }]);
        }
        if (c.name.includes('quotas')) {
          // rdkafka_performance's client id: limits far above what it can send, so every request is counted, none held
          await admin.alterClientQuotas([{ entityType: 'client-id', entityName: 'rdkafka' }], { producer_byte_rate: 100e9, request_percentage: 10_000 });
        }
      } finally {
        admin.close();
      }
      warmPageCache(dir, 1.5 * MESSAGES * MESSAGE_BYTES);
      const before = await cpuSeconds(server.pid);
      const result = await rdkafkaPerformance(rdkafka, { role: 'produce', port: PORT, topic: 'perf', partition: 0, messageBytes: MESSAGE_BYTES, messages: MESSAGES, acks: -1, seconds: 120, settings: c.client });
      const cpu = (await cpuSeconds(server.pid)) - before;
      if (result.error) return `${c.name}: ${result.error}`;
      const gib = result.bytes / 2 ** 30;
      return `${c.name.padEnd(18)} ${(result.bytes / result.seconds / 1e6).toFixed(0).padStart(5)} MB/s  broker CPU ${(cpu / gib).toFixed(2)} s per GiB`;
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(`rdkafka_performance: ${MESSAGES} messages of ${MESSAGE_BYTES} B, acks=all, one partition`);
for (let repetition = 0; repetition < Number(options.repeat); repetition++) {
  for (const c of CASES) console.log(await run(c));
}
