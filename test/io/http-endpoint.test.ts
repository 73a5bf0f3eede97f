// The HTTP endpoint the metrics are scraped from: an answer written piece by piece, a route that fails before its first
// piece or after it, and a stop with a connection kept alive.
import assert from 'node:assert/strict';
import { Agent, request, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { serveHttp } from '../../src/io/http-endpoint.js';

async function* pieces(...texts: (string | Error)[]): AsyncGenerator<string> {
  for (const t of texts) {
    if (t instanceof Error) throw t;
    yield t;
  }
}

test('answers come in pieces; a route failing before its first piece answers 500, after it cuts the answer; both reported', async () => {
  const reported: [string, string][] = [];
  const routes = new Map([
    ['/ok', () => ({ contentType: 'text/plain', body: pieces('fi', 'ne\n') })],
    ['/broken', () => ({ contentType: 'text/plain', body: pieces(new Error('collector failed')) })],
    ['/cut', () => ({ contentType: 'text/plain', body: pieces('half', new Error('failed midway')) })],
  ]);
  const endpoint = await serveHttp('127.0.0.1', 0, routes, (err, path) => reported.push([path, (err as Error).message]));
  const base = `http://127.0.0.1:${endpoint.port}`;
  try {
    const broken = await fetch(`${base}/broken`);
    assert.deepEqual([broken.status, await broken.text()], [500, 'internal error; see the broker log\n']);
    // the client sees a failed answer (the connection ends before its end, or before its headers), not a short one
    await assert.rejects(fetch(`${base}/cut`).then((res) => res.text()), /terminated|fetch failed/);
    assert.deepEqual(reported, [['/broken', 'collector failed'], ['/cut', 'failed midway']]);
    const ok = await fetch(`${base}/ok?ignored=1`);
    assert.deepEqual([ok.status, ok.headers.get('content-type'), await ok.text()], [200, 'text/plain', 'fine\n']);
    // a client that keeps its connection open, as a scraper does between scrapes
    const kept = await new Promise<IncomingMessage>((resolve) => request(`${base}/ok`, { agent: new Agent({ keepAlive: true }) }, resolve).end());
    kept.resume();
    await endpoint.close();
    await assert.rejects(fetch(`${base}/ok`), /fetch failed/);
  } finally {
    // a failure above must not leave the server holding the test process open (closing twice is harmless)
    await endpoint.close();
  }
});
