// Redis Streams through ioredis: one stream key per index. Durability is the server's AOF setting
// (`appendfsync always` for durable runs, `everysec` for relaxed ones); sends are pipelined XADDs.
import { Redis } from 'ioredis';
import type { Driver, RunTarget } from './driver.js';

export async function redisDriver(t: RunTarget): Promise<Driver> {
  const client = new Redis({ host: '127.0.0.1', port: t.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  const key = (i: number) => `${t.name}-${i}`;
  let reader: Redis | null = null;
  let stopped = false;
  return {
    async prepare() {
      // streams are created by the first XADD
    },
    async send(index, payloads) {
      const pipeline = client.pipeline();
      for (const p of payloads) pipeline.xaddBuffer(key(index), '*', 'd', p);
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    },
    async consume(indices, onMessages) {
      reader = client.duplicate();
      const ids = indices.map(() => '0');
      void (async () => {
        while (!stopped) {
          const res = (await reader!.xreadBuffer('COUNT', 2000, 'BLOCK', 100, 'STREAMS', ...indices.map(key), ...ids).catch(() => null)) as [Buffer, [Buffer, Buffer[]][]][] | null;
          if (!res) continue;
          for (const [k, entries] of res) {
            const at = indices.map(key).indexOf(k.toString());
            ids[at] = entries[entries.length - 1]![0].toString();
            onMessages(entries.map(([, fields]) => fields[1]!));
          }
        }
      })();
    },
    async close() {
      stopped = true;
      await new Promise((r) => setTimeout(r, 150));
      reader?.disconnect();
      client.disconnect();
    },
  };
}
