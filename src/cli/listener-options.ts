// `sluice start`'s listener options, as Kafka's broker configs spell them: listeners, advertised.listeners and
// listener.security.protocol.map, and a listener's own settings (listener.name.NAME.*).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SECURITY_PROTOCOLS, type ListenerConfig, type SecurityProtocol } from '../broker/listeners.js';
import { SASL_MECHANISMS, type SaslMechanism } from '../broker/sasl-credentials.js';
import { UsageError } from './usage-error.js';

interface Endpoint {
  name: string;
  host: string;
  port: number;
}

/** `NAME://host:port,...` (an IPv6 host in brackets; an empty host: every interface), checked. */
export function endpoints(flag: string, text: string): Endpoint[] {
  const out: Endpoint[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^([A-Za-z0-9_]+):\/\/(\[[0-9A-Fa-f:.]+\]|[^:[\]/]*):(\d+)$/.exec(item);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535) throw new UsageError(`${flag} must be NAME://host:port separated by commas, e.g. PLAINTEXT://127.0.0.1:9092,SASL_SSL://0.0.0.0:9093; got ${JSON.stringify(item)}`);
    const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]! === '' ? '0.0.0.0' : m[2]!;
    if (out.some((e) => e.name.toUpperCase() === m[1]!.toUpperCase())) throw new UsageError(`${flag} names listener ${m[1]} twice`);
    out.push({ name: m[1]!, host, port });
  }
  if (out.length === 0) throw new UsageError(`${flag} names no listener`);
  return out;
}

/** `NAME:PROTOCOL,...`, checked. */
export function protocolMap(text: string): Record<string, SecurityProtocol> {
  const out: Record<string, SecurityProtocol> = {};
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const [name, protocol] = item.split(':');
    if (!name || !SECURITY_PROTOCOLS.includes(protocol as SecurityProtocol)) {
      throw new UsageError(`listener-security-protocol-map must be NAME:PROTOCOL separated by commas, the protocol one of ${SECURITY_PROTOCOLS.join(', ')}; got ${JSON.stringify(item)}`);
    }
    out[name.toUpperCase()] = protocol as SecurityProtocol;
  }
  return out;
}

/**
 * The listeners the three options make: each named one's protocol from the map, else its name when that is a
 * protocol (Kafka's rule); its advertised address from `advertised`, by name.
 */
export function listenersFrom(listeners: Endpoint[], advertised: Endpoint[], map: Record<string, SecurityProtocol>): ListenerConfig[] {
  for (const a of advertised) {
    if (!listeners.some((l) => l.name.toUpperCase() === a.name.toUpperCase())) throw new UsageError(`advertised-listeners names ${a.name}, which --listeners does not`);
  }
  return listeners.map((l) => {
    const protocol = map[l.name.toUpperCase()] ?? (SECURITY_PROTOCOLS.includes(l.name.toUpperCase() as SecurityProtocol) ? (l.name.toUpperCase() as SecurityProtocol) : null);
    if (protocol === null) throw new UsageError(`listener ${l.name} has no security protocol: name it after one (${SECURITY_PROTOCOLS.join(', ')}) or give it one in --listener-security-protocol-map`);
    const shown = advertised.find((a) => a.name.toUpperCase() === l.name.toUpperCase());
    return { name: l.name, securityProtocol: protocol, host: l.host, port: l.port, advertisedHost: shown?.host, advertisedPort: shown?.port };
  });
}

/** The files a listener's own TLS settings name, as librdkafka's clients name theirs. */
const TLS_FILE_KEYS = { 'ssl.certificate.location': 'cert', 'ssl.key.location': 'key', 'ssl.ca.location': 'ca', 'ssl.crl.location': 'crl' } as const;
type TlsFileKey = keyof typeof TLS_FILE_KEYS;

/** One `--listener-config` setting: a listener's client auth, SASL mechanisms, or a TLS file of its own. */
export type ListenerSetting = { listener: string } & (
  | { key: 'ssl.client.auth'; value: 'required' | 'requested' | 'none' }
  | { key: 'sasl.enabled.mechanisms'; value: SaslMechanism[] }
  | { key: TlsFileKey; value: { path: string; pem: Buffer } }
);

/** Parses `NAME.key=value` into `into`, checked. */
export function listenerSetting(text: string, into: ListenerSetting[]): void {
  const m = /^([A-Za-z0-9_]+)\.(ssl\.client\.auth|sasl\.enabled\.mechanisms|ssl\.certificate\.location|ssl\.key\.location|ssl\.ca\.location|ssl\.crl\.location)=(.+)$/.exec(text.trim());
  if (!m) throw new UsageError(`listener-config must be NAME.KEY=VALUE, KEY one of ssl.client.auth, sasl.enabled.mechanisms, ${Object.keys(TLS_FILE_KEYS).join(', ')}; got ${JSON.stringify(text)}`);
  const [, listener, key, value] = m as unknown as [string, string, string, string];
  if (key in TLS_FILE_KEYS) {
    const path = resolve(value);
    let pem: Buffer;
    try {
      pem = readFileSync(path);
    } catch (err) {
      throw new UsageError(`listener-config ${listener}.${key}: cannot read ${path}: ${(err as Error).message}`);
    }
    into.push({ listener, key: key as TlsFileKey, value: { path, pem } });
  } else if (key === 'ssl.client.auth') {
    if (value !== 'required' && value !== 'requested' && value !== 'none') throw new UsageError(`listener-config ${listener}.ssl.client.auth must be required, requested or none, got ${JSON.stringify(value)}`);
    into.push({ listener, key: 'ssl.client.auth', value });
  } else {
    const mechanisms = value.split(',').map((s) => s.trim());
    if (mechanisms.some((x) => !SASL_MECHANISMS.includes(x as SaslMechanism))) throw new UsageError(`listener-config ${listener}.sasl.enabled.mechanisms must be some of ${SASL_MECHANISMS.join(', ')}, got ${JSON.stringify(value)}`);
    into.push({ listener, key: 'sasl.enabled.mechanisms', value: mechanisms as SaslMechanism[] });
  }
}

/** The listeners with their own settings applied; a setting of a listener `--listeners` does not name is refused. */
export function withListenerSettings(listeners: ListenerConfig[], settings: readonly ListenerSetting[]): ListenerConfig[] {
  for (const s of settings) {
    const l = listeners.find((x) => x.name.toUpperCase() === s.listener.toUpperCase());
    if (!l) throw new UsageError(`listener-config names ${s.listener}, which --listeners does not`);
    if (s.key === 'ssl.client.auth') l.tlsClientAuth = s.value;
    else if (s.key === 'sasl.enabled.mechanisms') l.saslMechanisms = s.value;
    else {
      const which = TLS_FILE_KEYS[s.key];
      l.tls = { ...l.tls, [which]: s.value.pem, files: { ...l.tls?.files, [which]: s.value.path } };
    }
  }
  return listeners;
}
