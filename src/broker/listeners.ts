import type { TlsFiles, TlsMaterial, TlsSettings } from '../io/tcp.js';
import { SASL_MECHANISMS, type SaslMechanism } from './sasl-credentials.js';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export const SECURITY_PROTOCOLS: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];

/**
 * One port the broker listens on, and what it asks of the clients that connect there (Kafka's `listeners`,
 * `advertised.listeners` and `listener.security.protocol.map`): TLS with the broker's certificate for SSL and
 * SASL_SSL, SASL with its users for SASL_PLAINTEXT and SASL_SSL.
 */
export interface ListenerConfig {
  /** Kafka's listener name (PLAINTEXT, INTERNAL, EXTERNAL, ...), unique among the broker's. */
  name: string;
  securityProtocol: SecurityProtocol;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Where clients are told to connect (Metadata, FindCoordinator, DescribeCluster) when they came in here. */
  advertisedHost?: string;
  advertisedPort?: number;
  /** This listener's own ssl.client.auth (Kafka's listener.name.NAME.ssl.client.auth); default the broker's. */
  tlsClientAuth?: 'required' | 'requested' | 'none';
  /** The SASL mechanisms this listener offers (listener.name.NAME.sasl.enabled.mechanisms); default the broker's. */
  saslMechanisms?: readonly SaslMechanism[];
  /**
   * This listener's own certificate and key (both or neither) and CA, over the broker's (Kafka's
   * listener.name.NAME.ssl.*), and the files they were read from, read again when they change.
   */
  tls?: ListenerOwnTls;
}

export type ListenerOwnTls = Partial<TlsMaterial> & { files?: Partial<TlsFiles> };

/** What a connection knows of the listener it came in on. */
export interface Listener {
  name: string;
  securityProtocol: SecurityProtocol;
  /** The SASL mechanisms offered here, where they differ from the broker's. */
  saslMechanisms?: readonly SaslMechanism[];
  /** The host and port clients of this listener are told to connect to. */
  advertised: { host: string; port: number };
}

export const usesTls = (p: SecurityProtocol): boolean => p === 'SSL' || p === 'SASL_SSL';
export const usesSasl = (p: SecurityProtocol): boolean => p === 'SASL_PLAINTEXT' || p === 'SASL_SSL';

/** Kafka's name for what a listener asks of its clients. */
export function securityProtocol(sasl: boolean, tls: boolean): SecurityProtocol {
  return sasl ? (tls ? 'SASL_SSL' : 'SASL_PLAINTEXT') : tls ? 'SSL' : 'PLAINTEXT';
}

/** The listener's advertised address once it is bound: a wildcard host is advertised as loopback unless told otherwise. */
export function advertisedOf(config: ListenerConfig, boundPort: number): { host: string; port: number } {
  const wildcard = config.host === '0.0.0.0' || config.host === '::';
  return { host: config.advertisedHost ?? (wildcard ? '127.0.0.1' : config.host), port: config.advertisedPort ?? boundPort };
}

/**
 * What a TLS listener serves: its own certificate and key, else the broker's; its own CA, else the broker's (with the
 * broker's certificate, the broker's files are read again; with its own, its own files); null without either.
 */
export function listenerTlsSettings(l: ListenerConfig, broker: TlsSettings | null): TlsSettings | null {
  const own = l.tls;
  if (own === undefined) return broker;
  const base = own.cert !== undefined ? { cert: own.cert, key: own.key!, files: own.files } : broker === null ? null : { cert: broker.cert, key: broker.key, files: broker.files };
  if (base === null) return null;
  // a revocation list is its CA's: a listener with a CA of its own takes its own list only
  const trust = own.ca !== undefined ? { ca: own.ca, crl: own.crl, caFile: own.files?.ca, crlFile: own.files?.crl } : { ca: broker?.ca, crl: broker?.crl, caFile: broker?.files?.ca, crlFile: broker?.files?.crl };
  const files = base.files?.cert !== undefined && base.files.key !== undefined
    ? { cert: base.files.cert, key: base.files.key, ...(trust.caFile === undefined ? {} : { ca: trust.caFile }), ...(trust.crlFile === undefined ? {} : { crl: trust.crlFile }) }
    : undefined;
  return { cert: base.cert, key: base.key, ca: trust.ca, crl: trust.crl, clientAuth: l.tlsClientAuth ?? broker?.clientAuth ?? 'none', minVersion: broker?.minVersion, ciphers: broker?.ciphers, files };
}

/**
 * Checks a broker's listeners against what it can serve: names unique, a TLS listener only with a certificate, a SASL
 * one only with users; returns why not, or null.
 */
export function listenersRefusal(listeners: readonly ListenerConfig[], tls: TlsSettings | null, sasl: boolean): string | null {
  if (listeners.length === 0) return 'a broker needs at least one listener';
  if (tls?.crl !== undefined && tls.ca === undefined) return 'a certificate revocation list needs the CA whose certificates it lists';
  const names = new Set<string>();
  for (const l of listeners) {
    if (!/^[A-Za-z0-9_]+$/.test(l.name)) return `listener name ${JSON.stringify(l.name)} must be letters, digits and _`;
    if (names.has(l.name.toUpperCase())) return `listener ${l.name} is named twice`;
    names.add(l.name.toUpperCase());
    if (!SECURITY_PROTOCOLS.includes(l.securityProtocol)) return `listener ${l.name}: unknown security protocol ${l.securityProtocol}`;
    if (l.tls !== undefined && !usesTls(l.securityProtocol)) return `listener ${l.name} is ${l.securityProtocol}: it has no TLS for a certificate or CA`;
    if ((l.tls?.cert === undefined) !== (l.tls?.key === undefined)) return `listener ${l.name}'s own certificate and key go together`;
    if (l.tls?.crl !== undefined && l.tls.ca === undefined) return `listener ${l.name}'s own revocation list needs its own CA, whose certificates it lists`;
    const served = listenerTlsSettings(l, tls);
    if (usesTls(l.securityProtocol) && served === null) return `listener ${l.name} is ${l.securityProtocol}, which needs the TLS certificate and key`;
    if (usesSasl(l.securityProtocol) && !sasl) return `listener ${l.name} is ${l.securityProtocol}, which needs SASL (users, or OAUTHBEARER's token settings)`;
    if (l.tlsClientAuth !== undefined && !usesTls(l.securityProtocol)) return `listener ${l.name} is ${l.securityProtocol}: it has no TLS for a client auth setting`;
    if (l.tlsClientAuth === 'required' && served?.ca === undefined) return `listener ${l.name} requires client certificates, which needs the CA that signs them`;
    if (l.saslMechanisms !== undefined && !usesSasl(l.securityProtocol)) return `listener ${l.name} is ${l.securityProtocol}: it has no SASL for mechanisms`;
    const unknown = l.saslMechanisms?.find((m) => !SASL_MECHANISMS.includes(m));
    if (l.saslMechanisms?.length === 0 || unknown !== undefined) return `listener ${l.name}'s SASL mechanisms must be some of ${SASL_MECHANISMS.join(', ')}`;
  }
  return null;
}
