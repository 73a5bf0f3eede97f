import { ProtocolError } from './errors.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/**
 * Reads the fixed part of a request header (key, version, correlation id, client id). The client id is a
 * classic nullable string in every header version; header v2 adds a tagged-field section, which the caller
 * skips once it knows whether the API version is flexible.
 */
export function readRequestHeader(r: Reader): RequestHeader {
  if (r.remaining < 8) throw new ProtocolError(`request of ${r.remaining} bytes is shorter than a header`);
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const clientId = r.nullableString(false);
  return { apiKey, apiVersion, correlationId, clientId };
}

export function writeRequestHeader(w: Writer, h: RequestHeader, flexible: boolean): void {
  w.int16(h.apiKey);
  w.int16(h.apiVersion);
  w.int32(h.correlationId);
  w.nullableString(h.clientId, false);
  if (flexible) w.uvarint(0);
}

/** Response header v0 is the correlation id; v1 (flexible APIs, except ApiVersions) adds empty tagged fields. */
export function writeResponseHeader(w: Writer, correlationId: number, flexible: boolean): void {
  w.int32(correlationId);
  if (flexible) w.uvarint(0);
}
