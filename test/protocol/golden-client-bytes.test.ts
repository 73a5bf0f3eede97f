// Golden bytes from real clients: every request kcat and kafkajs send (through a recording proxy) decodes
// with our generated schemas and re-encodes to exactly the bytes the client sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { readRequestHeader, writeRequestHeader } from '../../src/protocol/headers.js';
import { API_SCHEMAS } from '../../src/protocol/messages.generated.js';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';
import { withBroker } from '../helpers/broker.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { run } from '../helpers/run.js';

function reencode(frame: Buffer): { apiKey: number; version: number; bytes: Buffer } {
  const r = new Reader(frame);
  const header = readRequestHeader(r);
  const schema = API_SCHEMAS[header.apiKey]!;
  const flexible = schema.flexibleMin >= 0 && header.apiVersion >= schema.flexibleMin;
  if (flexible) r.skipTaggedFields();
  const body = schema.decodeRequest(r, header.apiVersion);
  assert.equal(r.remaining, 0, `${schema.name} v${header.apiVersion}: ${r.remaining} bytes not decoded`);
  const w = new Writer(256);
  writeRequestHeader(w, header, flexible);
  schema.encodeRequest(w, header.apiVersion, body);
  return { apiKey: header.apiKey, version: header.apiVersion, bytes: w.toBuffer() };
}

async function recordClientTraffic(drive: (bootstrap: string) => Promise<void>): Promise<Buffer[]> {
  const proxy = await RecordingProxy.start();
  try {
    await withBroker(async ({ broker }) => {
      proxy.targetPort = broker.port;
      await drive(`127.0.0.1:${proxy.port}`);
    }, { advertisedPort: proxy.port });
    return proxy.requests;
  } finally {
    await proxy.close();
  }
}

function assertAllReencode(frames: Buffer[]): Set<string> {
  const seen = new Set<string>();
  for (const frame of frames) {
    const { apiKey, version, bytes } = reencode(frame);
    seen.add(`${API_SCHEMAS[apiKey]!.name} v${version}`);
    assert.deepEqual(bytes.toString('hex'), frame.toString('hex'), `${API_SCHEMAS[apiKey]!.name} v${version}`);
  }
  return seen;
}

test('kcat (librdkafka) requests re-encode byte for byte', async () => {
  const frames = await recordClientTraffic(async (bootstrap) => {
    const lines = Array.from({ length: 100 }, (_, i) => `k${i}:v${i}`).join('\n') + '\n';
    for (const args of [
      ['-L'],
      ['-P', '-t', 'golden', '-K:', '-z', 'zstd', '-X', 'acks=all'],
      ['-C', '-t', 'golden', '-o', 'beginning', '-e', '-q'],
      ['-Q', '-t', 'golden:0:1'],
    ]) {
      const res = await run('kcat', ['-b', bootstrap, ...args], { input: args[0] === '-P' ? lines : undefined, timeoutMs: 30_000 });
      assert.equal(res.code, 0, res.stderr);
    }
  });
  const seen = assertAllReencode(frames);
  for (const want of ['ApiVersions v3', 'Metadata v', 'Produce v', 'Fetch v', 'ListOffsets v']) {
    assert.ok([...seen].some((s) => s.startsWith(want)), `kcat sent no ${want}: ${[...seen].join(', ')}`);
  }
});

test('kafkajs requests re-encode byte for byte', async () => {
  const frames = await recordClientTraffic(async (bootstrap) => {
    const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'golden', numPartitions: 2 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'golden', messages: [{ key: 'a', value: 'b', headers: { h: 'v' } }, { value: null }] });
    await admin.fetchTopicOffsets('golden');
    await admin.describeConfigs({ resources: [{ type: 2, name: 'golden' }], includeSynonyms: false });
    await admin.deleteTopics({ topics: ['golden'] });
    await producer.disconnect();
    await admin.disconnect();
  });
  const seen = assertAllReencode(frames);
  for (const want of ['ApiVersions v', 'CreateTopics v', 'Produce v', 'ListOffsets v', 'DescribeConfigs v', 'DeleteTopics v']) {
    assert.ok([...seen].some((s) => s.startsWith(want)), `kafkajs sent no ${want}: ${[...seen].join(', ')}`);
  }
});
