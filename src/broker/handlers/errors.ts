import { ErrorCode, KafkaError } from '../../protocol/errors.js';

/** The Kafka code and message for an error caught in a handler; unexpected errors become KAFKA_STORAGE_ERROR or UNKNOWN_SERVER_ERROR. */
export function toErrorCode(err: unknown): { errorCode: number; errorMessage: string } {
  if (err instanceof KafkaError) return { errorCode: err.code, errorMessage: err.message };
  const code = (err as NodeJS.ErrnoException)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: `storage error: ${(err as Error).message}` };
  }
  return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: (err as Error)?.message ?? String(err) };
}

/** A topic refused because its client's controller_mutation_rate is spent (KIP-599's strict versions). */
export function refuseMutations(): KafkaError {
  return new KafkaError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, 'the throttling quota has been exceeded: the client\'s controller_mutation_rate is spent');
}
