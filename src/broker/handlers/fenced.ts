import { ErrorCode } from '../../protocol/errors.js';
import type { FencedCode } from '../../coordinator/transaction-coordinator.js';

/**
 * The code a stale producer epoch is answered with (KIP-588): PRODUCER_FENCED from the request version
 * that introduced it, INVALID_PRODUCER_EPOCH for older clients, which do not know the newer code.
 */
export function fencedCode(version: number, firstVersionWithProducerFenced: number): FencedCode {
  return version >= firstVersionWithProducerFenced ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH;
}
