// Every generated message at every version: random values (seeded) survive encode → decode, and the
// committed generated code is what the codegen script makes from the definitions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { API_SCHEMAS } from '../../src/protocol/messages.generated.js';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';
import { prng } from '../helpers/prng.js';
import { run } from '../helpers/run.js';

interface FieldSpec {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  fields?: FieldSpec[];
}

interface MessageSpec {
  name: string;
  apiKey: number;
  type: 'request' | 'response';
  validVersions: string;
  fields: FieldSpec[];
}

const SOURCE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const specs: MessageSpec[] = JSON.parse(readFileSync(`${SOURCE_ROOT}test/protocol/message-schemas.generated.json`, 'utf8'));

function inRange(spec: string | undefined, v: number): boolean {
  if (!spec || spec === 'none') return false;
  const plus = /^(\d+)\+$/.exec(spec);
  if (plus) return v >= Number(plus[1]);
  const [lo, hi] = spec.split('-').map(Number);
  return v >= lo! && v <= (hi ?? lo!);
}

function versionsOf(spec: string): number[] {
  const [lo, hi] = spec.split('-').map(Number);
  const out: number[] = [];
  for (let v = lo!; v <= (hi ?? lo!); v++) out.push(v);
  return out;
}

function scalar(type: string, rnd: () => number): unknown {
  const int = (lo: number, hi: number) => Math.floor(lo + rnd() * (hi - lo + 1));
  switch (type) {
    case 'bool': return rnd() < 0.5;
    case 'int8': return int(-128, 127);
    case 'int16': return int(-32768, 32767);
    case 'uint16': return int(0, 65535);
    case 'int32': return int(-2147483648, 2147483647);
    case 'uint32': return int(0, 4294967295);
    case 'int64': return int(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    case 'float64': return (rnd() - 0.5) * 1e6;
    case 'string': return ['', 'a', 'topic-1', 'ünïcødé ✓', 'x'.repeat(int(0, 300))][int(0, 4)];
    case 'bytes':
    case 'records': return Buffer.from(Array.from({ length: int(0, 40) }, () => int(0, 255)));
    case 'uuid': return Array.from({ length: 32 }, () => '0123456789abcdef'[int(0, 15)]).join('');
    default: return undefined;
  }
}

function generate(fields: FieldSpec[], v: number, rnd: () => number, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (!inRange(f.versions, v)) continue;
    const nullable = inRange(f.nullableVersions, v);
    if (nullable && rnd() < 0.2) {
      out[f.name] = null;
      continue;
    }
    const isArray = f.type.startsWith('[]');
    const base = isArray ? f.type.slice(2) : f.type;
    const one = () => (f.fields ? generate(f.fields, v, rnd, depth + 1) : scalar(base, rnd));
    out[f.name] = isArray ? Array.from({ length: depth > 2 ? 0 : Math.floor(rnd() * 3) }, one) : one();
  }
  return out;
}

/** Compares the fields present at this version; decoders fill absent ones with defaults. */
function assertFieldsEqual(fields: FieldSpec[], v: number, got: Record<string, unknown>, want: Record<string, unknown>, path: string): void {
  for (const f of fields) {
    if (!inRange(f.versions, v) || !(f.name in want)) continue;
    const w = want[f.name];
    const g = got[f.name];
    const where = `${path}.${f.name}`;
    if (w === null || !f.fields) {
      assert.deepEqual(g, w, where);
    } else if (Array.isArray(w)) {
      assert.equal((g as unknown[]).length, w.length, `${where}.length`);
      w.forEach((item, i) => assertFieldsEqual(f.fields!, v, (g as Record<string, unknown>[])[i]!, item as Record<string, unknown>, `${where}[${i}]`));
    } else {
      assertFieldsEqual(f.fields, v, g as Record<string, unknown>, w as Record<string, unknown>, where);
    }
  }
}

test('every message at every version round-trips random values', () => {
  let cases = 0;
  for (const spec of specs) {
    const schema = API_SCHEMAS[spec.apiKey];
    assert.ok(schema, `no schema for API ${spec.apiKey}`);
    const encode = spec.type === 'request' ? schema.encodeRequest : schema.encodeResponse;
    const decode = spec.type === 'request' ? schema.decodeRequest : schema.decodeResponse;
    for (const v of versionsOf(spec.validVersions)) {
      for (let i = 0; i < 5; i++) {
        const seed = spec.apiKey * 100_000 + v * 100 + i + (spec.type === 'request' ? 0 : 50);
        const value = generate(spec.fields, v, prng(seed));
        const w = new Writer(64);
        encode(w, v, value);
        const bytes = w.toBuffer();
        const r = new Reader(bytes);
        const decoded = decode(r, v) as Record<string, unknown>;
        assert.equal(r.remaining, 0, `${spec.name} v${v} seed ${seed}: ${r.remaining} bytes left`);
        assertFieldsEqual(spec.fields, v, decoded, value, `${spec.name} v${v} seed ${seed}`);
        // re-encoding the decoded value gives the same bytes
        const again = new Writer(64);
        encode(again, v, decoded);
        assert.deepEqual(again.toBuffer(), bytes, `${spec.name} v${v} seed ${seed}: re-encoding differs`);
        cases++;
      }
    }
  }
  assert.ok(cases > 2500, `only ${cases} cases`);
});

test('truncated encodings fail with a protocol error, never a crash or a silent success', () => {
  for (const spec of specs.filter((s) => s.type === 'request')) {
    const schema = API_SCHEMAS[spec.apiKey]!;
    for (const v of versionsOf(spec.validVersions)) {
      const value = generate(spec.fields, v, prng(v + 7));
      const w = new Writer(64);
      schema.encodeRequest(w, v, value);
      const bytes = w.toBuffer();
      for (let cut = 0; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 16))) {
        assert.throws(() => schema.decodeRequest(new Reader(bytes.subarray(0, cut)), v), { name: 'ProtocolError' }, `${spec.name} v${v} cut at ${cut}`);
      }
    }
  }
});

test('the committed generated code matches the message definitions', async () => {
  const res = await run(process.execPath, [`${SOURCE_ROOT}tools/codegen/generate-messages.mjs`, '--check']);
  assert.equal(res.code, 0, res.stderr);
});
