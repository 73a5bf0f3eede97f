import type { RequestHeader } from '../protocol/headers.js';
import type { Broker } from './broker.js';
import type { Connection } from './connection.js';

export interface RequestContext {
  broker: Broker;
  header: RequestHeader;
  version: number;
  connection: Connection;
}

/**
 * One Kafka API. `minVersion..maxVersion` is exactly what ApiVersions advertises for it. `handle` gets the
 * decoded request and returns the response body, or null when the protocol says no response is sent.
 */
export interface ApiHandler<Req = any, Res = any> {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
  handle(ctx: RequestContext, request: Req): Promise<Res | null> | Res | null;
}
