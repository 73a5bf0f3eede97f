// Example: idempotent consumption outside transactions. A consumer that may see a message twice (a redelivery
// after a crash before its offset commit, or a duplicate sent by an at-least-once producer upstream) stays
// correct by remembering which message ids it applied, in its own store, in the same atomic write as the
// effect. Shown in docs/EXACTLY-ONCE.md.
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel, type EachMessagePayload } from 'kafkajs';
import { startBroker } from '../../src/index.js'; // in your project: from 'sluice'
import { tempDir } from '../helpers/temp-dir.js';

/** The consumer's own state: account balances and the ids of the payments already applied to them. */
interface Ledger {
  balances: Record<string, number>;
  applied: string[];
}

class LedgerStore {
  constructor(private readonly path: string) {}

  async load(): Promise<Ledger> {
    return JSON.parse(await readFile(this.path, 'utf8').catch(() => '{"balances":{},"applied":[]}')) as Ledger;
  }

  /** The effect and the dedup record land together or not at all (write a temporary file, then rename). */
  async save(ledger: Ledger): Promise<void> {
    await writeFile(this.path + '.tmp', JSON.stringify(ledger));
    await rename(this.path + '.tmp', this.path);
  }
}

/** Applies one payment unless its id (the message key) was applied before. Returns whether it was new. */
async function applyPayment(store: LedgerStore, { message }: EachMessagePayload): Promise<boolean> {
  const id = message.key!.toString();
  const ledger = await store.load();
  if (ledger.applied.includes(id)) return false;
  const { account, amount } = JSON.parse(message.value!.toString()) as { account: string; amount: number };
  ledger.balances[account] = (ledger.balances[account] ?? 0) + amount;
  ledger.applied.push(id);
  await store.save(ledger);
  return true;
}

test('a consumer that dedups by message id applies each payment once across a duplicate and a crash before commit', async () => {
  const broker = await startBroker();
  const { dir, cleanup } = await tempDir();
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  try {
    const store = new LedgerStore(join(dir, 'ledger.json'));
    const producer = kafka.producer();
    await producer.connect();
    const payment = (id: string, account: string, amount: number) => ({ key: id, value: JSON.stringify({ account, amount }) });
    await producer.send({
      topic: 'payments',
      messages: [payment('p1', 'alice', 10), payment('p2', 'bob', 5), payment('p3', 'alice', -3), payment('p2', 'bob', 5) /* sent twice upstream */, payment('p4', 'bob', 7), payment('p5', 'alice', 1)],
    });
    await producer.disconnect();

    // first run: applies three messages, then the process dies before committing any offset
    const first = kafka.consumer({ groupId: 'ledger', maxWaitTimeInMs: 100 });
    await first.connect();
    await first.subscribe({ topic: 'payments', fromBeginning: true });
    let seen = 0;
    await new Promise<void>((resolve) => {
      void first.run({ autoCommit: false, eachMessage: async (payload) => {
        if (seen === 3) return resolve();
        await applyPayment(store, payload);
        if (++seen === 3) resolve();
      } });
    });
    await first.disconnect();

    // second run: everything is redelivered; the ledger skips what it already applied, then commits
    const second = kafka.consumer({ groupId: 'ledger', maxWaitTimeInMs: 100 });
    await second.connect();
    await second.subscribe({ topic: 'payments', fromBeginning: true });
    const outcomes: [string, boolean][] = [];
    await new Promise<void>((resolve) => {
      void second.run({ autoCommit: false, eachMessage: async (payload) => {
        outcomes.push([payload.message.key!.toString(), await applyPayment(store, payload)]);
        await second.commitOffsets([{ topic: payload.topic, partition: payload.partition, offset: String(Number(payload.message.offset) + 1) }]);
        if (outcomes.length === 6) resolve();
      } });
    });
    await second.disconnect();

    assert.deepEqual(outcomes, [['p1', false], ['p2', false], ['p3', false], ['p2', false], ['p4', true], ['p5', true]]);
    assert.deepEqual(await store.load(), { balances: { alice: 8, bob: 12 }, applied: ['p1', 'p2', 'p3', 'p4', 'p5'] });
  } finally {
    await broker.close();
    await cleanup();
  }
});
