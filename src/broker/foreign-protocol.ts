/**
 * What a connection's first four bytes say when they are not a Kafka request size: the start of another protocol,
 * sent to this port by mistake, which the log line closing the connection then names (a bare "request size
 * 369295617" leaves an operator to work out that 0x16030100 is a TLS handshake).
 */
export function foreignProtocol(prefix: Buffer): string | null {
  // a TLS record of the handshake type (22), protocol version 3.x
  if (prefix[0] === 0x16 && prefix[1] === 0x03) return 'a TLS handshake: this listener speaks plaintext Kafka (TLS is not supported)';
  const text = prefix.toString('latin1', 0, 4);
  if (text === 'AMQP') return 'an AMQP protocol header: this listener speaks Kafka';
  if (HTTP_STARTS.has(text)) return 'an HTTP request: this listener speaks Kafka';
  return null;
}

/** The first four bytes of HTTP/1 methods, and of the HTTP/2 connection preface. */
const HTTP_STARTS = new Set(['GET ', 'POST', 'PUT ', 'HEAD', 'DELE', 'OPTI', 'PATC', 'CONN', 'TRAC', 'PRI ']);
