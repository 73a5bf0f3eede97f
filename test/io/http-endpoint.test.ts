// The HTTP endpoint the metrics are scraped from: routes, a route that fails, and a stop with a connection kept alive.
import assert from 'node:assert/strict';
import { Agent, request, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { serveHttp } from '../../src/io/http-endpoint.js';

test('a failing route answers 500 and is reported; the others keep answering; close() ends kept-alive connections', async () => {
  const reported: [string, string][] = [];
  const routes = new Map([
    ['/ok', async () => ({ contentType: 'text/plain', body: 'fine\n' })],
    ['/broken', async () => Promise.reject(new Error('collector failed'))],
  ]);
  const endpoint = await serveHttp('127.0.0.1', 0, routes, (err, path) => reported.push([path, (err as Error).message]));
  const base = `http://127.0.0.1:${endpoint.port}`;
  const broken = await fetch(`${base}/broken`);
  assert.deepEqual([broken.status, await broken.text()], [500, 'internal error; see the broker log\n']);
  assert.deepEqual(reported, [['/broken', 'collector failed']]);
  const ok = await fetch(`${base}/ok?ignored=1`);
  assert.deepEqual([ok.status, ok.headers.get('content-type'), await ok.text()], [200, 'text/plain', 'fine\n']);
  // a client that keeps its connection open, as a scraper does between scrapes
  const kept = await new Promise<IncomingMessage>((resolve) => request(`${base}/ok`, { agent: new Agent({ keepAlive: true }) }, resolve).end());
  kept.resume();
  await endpoint.close();
  await assert.rejects(fetch(`${base}/ok`), /fetch failed/);
});
