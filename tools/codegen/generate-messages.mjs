#!/usr/bin/env node
// Generates src/protocol/messages.generated.ts from Kafka's JSON message definitions.
// Usage: node tools/codegen/generate-messages.mjs [--check] [spec-dir]   (default: ../shared/kafka-protocol beside the repo)
// --check writes nothing and exits 1 when the committed output differs from what the definitions generate.
// The output carries names, types and versions only: flat decode/encode functions with version branches.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const check = args.includes('--check');
const specDir = resolve(args.find((a) => a !== '--check') ?? join(repoRoot, '..', 'shared', 'kafka-protocol'));

/** Writes `text` to `file`, or in --check mode records whether it differs. */
const stale = [];
function emit(file, text) {
  if (!check) return writeFileSync(file, text);
  let current = null;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) stale.push(file);
}
const outFile = join(repoRoot, 'src', 'protocol', 'messages.generated.ts');
const descriptorFile = join(repoRoot, 'test', 'protocol', 'message-schemas.generated.json');

/** Messages a client may send to a broker (and their responses), plus the embedded data schemas. */
function wanted(spec) {
  if (spec.type === 'data' || spec.type === 'header') return true;
  return (spec.listeners ?? []).includes('broker');
}

function parseSpec(text) {
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, ''));
}

/** "3+", "0-5", "none" → {min, max} (max Infinity for open ranges), or null for none. */
function parseVersions(s) {
  if (s === undefined || s === 'none') return null;
  const plus = /^(\d+)\+$/.exec(s);
  if (plus) return { min: Number(plus[1]), max: Infinity };
  const range = /^(\d+)-(\d+)$/.exec(s);
  if (range) return { min: Number(range[1]), max: Number(range[2]) };
  const single = /^(\d+)$/.exec(s);
  if (single) return { min: Number(single[1]), max: Number(single[1]) };
  throw new Error(`bad versions ${s}`);
}

/** A TypeScript condition that is true when `v` is inside `range`, clipped to the message's valid versions. */
function versionCond(range, valid) {
  if (range === null) return 'false';
  const min = Math.max(range.min, valid.min);
  const max = Math.min(range.max, valid.max);
  if (min > max) return 'false';
  const parts = [];
  if (min > valid.min) parts.push(`v >= ${min}`);
  if (max < valid.max) parts.push(`v <= ${max}`);
  return parts.length === 0 ? 'true' : parts.join(' && ');
}

const camel = (name) => name[0].toLowerCase() + name.slice(1);

const SCALARS = {
  bool: 'boolean',
  int8: 'number',
  int16: 'number',
  uint16: 'number',
  int32: 'number',
  uint32: 'number',
  int64: 'number',
  float64: 'number',
  string: 'string',
  bytes: 'Buffer',
  records: 'Buffer',
  uuid: 'string',
};

const ZERO_UUID = "'00000000000000000000000000000000'";

function defaultLiteral(field, base) {
  const d = field.default;
  if (d === 'null') return 'null';
  switch (base) {
    case 'bool':
      return d === undefined ? 'false' : String(d === true || d === 'true');
    case 'string':
      return d === undefined ? "''" : JSON.stringify(String(d));
    case 'bytes':
    case 'records':
      return 'EMPTY_BYTES';
    case 'uuid':
      return ZERO_UUID;
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'int64':
    case 'float64':
      return d === undefined || d === '' ? '0' : String(Number(d));
    default:
      return null;
  }
}

class Generator {
  constructor(spec) {
    this.spec = spec;
    this.valid = parseVersions(spec.validVersions);
    this.flexible = parseVersions(spec.flexibleVersions ?? 'none');
    this.common = new Map((spec.commonStructs ?? []).map((s) => [s.name, s]));
    this.structs = []; // { tsName, fields, versions }
    this.out = [];
  }

  tsName(structName) {
    return this.spec.name === structName ? structName : `${this.spec.name}${structName}`;
  }

  /** Registers every struct reachable from the message and returns the top-level struct's name. */
  collect() {
    const seen = new Set();
    const visit = (name, fields, versions) => {
      const tsName = this.tsName(name);
      if (seen.has(tsName)) return tsName;
      seen.add(tsName);
      const entry = { tsName, fields, versions };
      this.structs.push(entry);
      for (const f of fields) {
        const base = f.type.startsWith('[]') ? f.type.slice(2) : f.type;
        if (SCALARS[base]) continue;
        const sub = f.fields ?? this.common.get(base)?.fields;
        if (!sub) throw new Error(`${this.spec.name}: no struct ${base}`);
        visit(base, sub, parseVersions(f.versions));
      }
      return tsName;
    };
    return visit(this.spec.name, this.spec.fields ?? [], this.valid);
  }

  flexCond() {
    return versionCond(this.flexible, this.valid);
  }

  fieldInfo(f) {
    const isArray = f.type.startsWith('[]');
    const base = isArray ? f.type.slice(2) : f.type;
    const scalar = SCALARS[base] !== undefined;
    const versions = parseVersions(f.versions);
    const present = versionCond(versions, this.valid);
    const nullableRange = parseVersions(f.nullableVersions);
    const nullable = versionCond(nullableRange, this.valid);
    const tagged = f.taggedVersions !== undefined;
    const alwaysPresent = present === 'true';
    const alwaysNullable = nullableRange !== null && nullable === present;
    const elemType = scalar ? SCALARS[base] : this.tsName(base);
    let tsType = isArray ? `${elemType}[]` : elemType;
    if (nullableRange !== null) tsType = `${tsType} | null`;
    const optional = !alwaysPresent || tagged || (!scalar && !isArray) || (nullableRange !== null && alwaysNullable);
    return { name: camel(f.name), isArray, base, scalar, present, nullable, nullableRange, tagged, tsType, optional, field: f };
  }

  emitTypes() {
    for (const s of this.structs) {
      this.out.push(`export interface ${s.tsName} {`);
      for (const f of s.fields) {
        const i = this.fieldInfo(f);
        this.out.push(`  ${i.name}${i.optional ? '?' : ''}: ${i.tsType};`);
      }
      this.out.push('}', '');
    }
  }

  scalarRead(base, nullableCond) {
    const pick = (nullableFn, plainFn) => {
      if (nullableCond === 'false') return `r.${plainFn}(flex)`;
      if (nullableCond === 'true') return `r.${nullableFn}(flex)`;
      return `(${nullableCond} ? r.${nullableFn}(flex) : r.${plainFn}(flex))`;
    };
    switch (base) {
      case 'string':
        return pick('nullableString', 'string');
      case 'bytes':
      case 'records':
        return pick('nullableBytes', 'bytes');
      default:
        return `r.${base}()`;
    }
  }

  scalarWrite(base, expr, nullableCond) {
    switch (base) {
      case 'string':
        return nullableCond === 'false' ? `w.string(${expr}, flex)` : `w.nullableString(${expr}, flex)`;
      case 'bytes':
      case 'records':
        return nullableCond === 'false' ? `w.bytes(${expr}, flex)` : `w.nullableBytes(${expr}, flex)`;
      default:
        return `w.${base}(${expr})`;
    }
  }

  /** Expression that decodes one value of field `i` (the whole array for array fields). */
  readExpr(i) {
    if (i.isArray) {
      const elem = i.scalar ? this.scalarRead(i.base, 'false') : `decode${this.tsName(i.base)}(r, v)`;
      return `readArray(r, flex, () => ${elem}, ${i.nullable})`;
    }
    if (i.scalar) return this.scalarRead(i.base, i.nullable);
    const call = `decode${this.tsName(i.base)}(r, v)`;
    if (i.nullable === 'false') return call;
    return `(${i.nullable} && r.int8() < 0 ? null : ${call})`;
  }

  writeStmt(i, expr) {
    if (i.isArray) {
      const elem = i.scalar ? this.scalarWrite(i.base, 'e', 'false') : `encode${this.tsName(i.base)}(w, v, e)`;
      return `writeArray(w, flex, ${expr}, (e) => ${elem});`;
    }
    if (i.scalar) return `${this.scalarWrite(i.base, expr, i.nullable)};`;
    const call = `encode${this.tsName(i.base)}(w, v, ${expr}!)`;
    if (i.nullable === 'false') return `${call};`;
    return `if (${i.nullable} && ${expr} == null) w.int8(-1); else { if (${i.nullable}) w.int8(1); ${call}; }`;
  }

  defaultExpr(i) {
    if (i.isArray) return i.nullableRange !== null && i.field.default === 'null' ? 'null' : '[]';
    if (!i.scalar) return i.field.default === 'null' ? 'null' : 'undefined';
    return defaultLiteral(i.field, i.base);
  }

  emitDecoder(s) {
    const infos = s.fields.map((f) => this.fieldInfo(f));
    const start = this.out.length;
    this.out.push(`  const flex = ${this.flexCond()};`);
    this.out.push(`  const m = {} as ${s.tsName};`);
    for (const i of infos) {
      const dflt = this.defaultExpr(i);
      if (i.tagged) {
        if (dflt !== 'undefined') this.out.push(`  m.${i.name} = ${dflt};`);
        continue;
      }
      if (i.present === 'true') this.out.push(`  m.${i.name} = ${this.readExpr(i)};`);
      else if (dflt === 'undefined') this.out.push(`  if (${i.present}) m.${i.name} = ${this.readExpr(i)};`);
      else this.out.push(`  m.${i.name} = ${i.present} ? ${this.readExpr(i)} : ${dflt};`);
    }
    const tagged = infos.filter((i) => i.tagged);
    if (tagged.length === 0) {
      this.out.push('  if (flex) r.skipTaggedFields();');
    } else {
      this.out.push('  if (flex) {');
      this.out.push('    const count = r.uvarint();');
      this.out.push('    for (let t = 0; t < count; t++) {');
      this.out.push('      const tag = r.uvarint();');
      this.out.push('      const size = r.uvarint();');
      this.out.push('      const end = r.pos + size;');
      this.out.push('      switch (tag) {');
      for (const i of tagged) {
        this.out.push(`        case ${i.field.tag}: if (${i.present}) { m.${i.name} = ${this.readExpr(i)}; } break;`);
      }
      this.out.push('      }');
      this.out.push('      r.pos = end;');
      this.out.push('    }');
      this.out.push('  }');
    }
    this.out.push('  return m;');
    this.wrap(start, `export function decode${s.tsName}(r: Reader, v: number): ${s.tsName} {`);
  }

  /** Wraps the body lines pushed since `start` in a function header, marking `v` used where no branch reads it. */
  wrap(start, signature) {
    const body = this.out.splice(start);
    if (!body.some((l) => /\bv\b/.test(l))) body.unshift('  void v;');
    this.out.push(signature, ...body, '}', '');
  }

  emitEncoder(s) {
    const infos = s.fields.map((f) => this.fieldInfo(f));
    const start = this.out.length;
    this.out.push(`  const flex = ${this.flexCond()};`);
    if (infos.length === 0) this.out.push('  void m;');
    for (const i of infos) {
      if (i.tagged) continue;
      const dflt = this.defaultExpr(i);
      const expr = i.optional && dflt !== 'undefined' && dflt !== null ? `(m.${i.name} === undefined ? ${dflt} : m.${i.name})` : `m.${i.name}`;
      const stmt = this.writeStmt(i, expr);
      if (i.present === 'true') this.out.push(`  ${stmt}`);
      else this.out.push(`  if (${i.present}) { ${stmt} }`);
    }
    const tagged = infos.filter((i) => i.tagged).sort((a, b) => a.field.tag - b.field.tag);
    if (tagged.length === 0) {
      this.out.push('  if (flex) w.uvarint(0);');
    } else {
      this.out.push('  if (flex) {');
      this.out.push('    const tags: [number, (w: Writer) => void][] = [];');
      for (const i of tagged) {
        const dflt = this.defaultExpr(i);
        const skip = i.isArray
          ? `x != null && x.length > 0`
          : i.scalar
            ? `x !== undefined && x !== ${dflt}`
            : `x != null`;
        const body = this.writeStmt(i, 'x').replace(/;$/, '');
        this.out.push(`    { const x = m.${i.name}; if (${i.present} && ${skip}) tags.push([${i.field.tag}, (w) => { ${body}; }]); }`);
      }
      this.out.push('    writeTaggedFields(w, tags);');
      this.out.push('  }');
    }
    this.wrap(start, `export function encode${s.tsName}(w: Writer, v: number, m: ${s.tsName}): void {`);
  }

  generate() {
    this.collect();
    this.emitTypes();
    for (const s of this.structs) {
      this.emitDecoder(s);
      this.emitEncoder(s);
    }
    return this.out.join('\n');
  }
}

const files = readdirSync(specDir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const allSpecs = files.map((f) => parseSpec(readFileSync(join(specDir, f), 'utf8')));
const brokerApiKeys = new Set(allSpecs.filter((s) => s.type === 'request' && wanted(s)).map((s) => s.apiKey));
const specs = allSpecs.filter((s) => (s.type === 'response' ? brokerApiKeys.has(s.apiKey) : wanted(s)));

const header = `// Generated by tools/codegen/generate-messages.mjs from Kafka's message definitions. Do not edit.
/* eslint-disable */
import { Reader } from './reader.js';
import { Writer } from './writer.js';
import { readArray, writeArray, writeTaggedFields, EMPTY_BYTES } from './codec-helpers.js';
`;

const body = [];
const apis = new Map();
for (const spec of specs) {
  body.push(`// ${spec.name} (${spec.type}, versions ${spec.validVersions}, flexible ${spec.flexibleVersions ?? 'none'})`);
  body.push(new Generator(spec).generate());
  if (spec.type === 'request' || spec.type === 'response') {
    const entry = apis.get(spec.apiKey) ?? { apiKey: spec.apiKey };
    entry[spec.type] = spec;
    apis.set(spec.apiKey, entry);
  }
}

const table = [...apis.values()]
  .filter((a) => a.request && a.response)
  .sort((a, b) => a.apiKey - b.apiKey)
  .map((a) => {
    const valid = parseVersions(a.request.validVersions);
    const flex = parseVersions(a.request.flexibleVersions ?? 'none');
    const name = a.request.name.replace(/Request$/, '');
    return `  ${a.apiKey}: { apiKey: ${a.apiKey}, name: '${name}', minVersion: ${valid.min}, maxVersion: ${valid.max}, flexibleMin: ${flex ? flex.min : -1}, decodeRequest: decode${a.request.name} as Decoder, encodeRequest: encode${a.request.name} as Encoder, decodeResponse: decode${a.response.name} as Decoder, encodeResponse: encode${a.response.name} as Encoder },`;
  });

const footer = `
export type Decoder = (r: Reader, v: number) => unknown;
export type Encoder = (w: Writer, v: number, m: any) => void;
export interface ApiSchema {
  apiKey: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** First flexible version, or -1 when the API has none. */
  flexibleMin: number;
  decodeRequest: Decoder;
  encodeRequest: Encoder;
  decodeResponse: Decoder;
  encodeResponse: Encoder;
}

/** Every API in the definitions that a client may send to a broker, by API key. */
export const API_SCHEMAS: Readonly<Record<number, ApiSchema>> = {
${table.join('\n')}
};
`;

emit(outFile, header + '\n' + body.join('\n') + footer);

// A names-types-versions descriptor of the same messages, for the round-trip tests' value generator.
function describeFields(fields, common) {
  return fields.map((f) => {
    const base = f.type.startsWith('[]') ? f.type.slice(2) : f.type;
    const sub = f.fields ?? common.get(base)?.fields;
    const out = { name: camel(f.name), type: f.type, versions: f.versions };
    if (f.nullableVersions) out.nullableVersions = f.nullableVersions;
    if (f.taggedVersions) out.taggedVersions = f.taggedVersions;
    if (sub) out.fields = describeFields(sub, common);
    return out;
  });
}
const descriptor = specs
  .filter((s) => s.type === 'request' || s.type === 'response')
  .map((s) => ({
    name: s.name,
    apiKey: s.apiKey,
    type: s.type,
    validVersions: s.validVersions,
    flexibleVersions: s.flexibleVersions ?? 'none',
    fields: describeFields(s.fields ?? [], new Map((s.commonStructs ?? []).map((c) => [c.name, c]))),
  }));
emit(descriptorFile, JSON.stringify(descriptor, null, 1) + '\n');
console.log(`${check ? 'checked' : 'wrote'} ${outFile}: ${specs.length} messages, ${table.length} APIs`);
if (check && stale.length > 0) {
  console.error(`out of date (run npm run codegen): ${stale.join(', ')}`);
  process.exit(1);
}
