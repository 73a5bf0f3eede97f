import type { RequestHeader } from '../protocol/headers.js';
import type { Broker } from './broker.js';
import type { Connection } from './connection.js';

export interface RequestContext {
  broker: Broker;
  header: RequestHeader;
  version: number;
  connection: Connection;
  /**
   * The request's bytes, which the decoded request's byte fields are views of. A handler whose views all end with
   * its work may give them back (broker.bufferPool.giveBack) for a later request to be read into; one that
   * keeps any (group metadata, assignments) must not.
   */
  frame: Buffer;
  /** Sets what runs once the response is written (memory its byte fields are views of may go back then). */
  afterResponseWritten(run: () => void): void;
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
