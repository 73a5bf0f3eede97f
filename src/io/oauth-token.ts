// A bearer token from an OAuth provider's token endpoint by the client credentials grant (RFC 6749, section 4.4), as
// Kafka's clients get one for OAUTHBEARER (KIP-768, sasl.oauthbearer.token.endpoint.url): the client's id and secret
// in HTTP Basic authentication, the grant (and a scope, if asked) in a form body.

export interface ClientCredentials {
  tokenEndpointUrl: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
}

/** The provider could not be reached, or gave no token. */
export class OAuthTokenError extends Error {}

/** How long the provider may take to answer. */
const TIMEOUT_MS = 10_000;

/** The access token the endpoint issues; throws with the provider's error, or what was wrong with its answer. */
export async function clientCredentialsToken(credentials: ClientCredentials): Promise<string> {
  const { tokenEndpointUrl, clientId, clientSecret, scope } = credentials;
  // RFC 6749, section 2.3.1: each part form-encoded before they are joined
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  const body = new URLSearchParams({ grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) });
  let res: Response;
  try {
    res = await fetch(tokenEndpointUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: Error }).cause;
    throw new OAuthTokenError(`the token endpoint ${tokenEndpointUrl} cannot be reached: ${cause?.message ?? (err as Error).message}`);
  }
  const text = await res.text();
  let answer: { access_token?: unknown; error?: unknown; error_description?: unknown } = {};
  try {
    answer = JSON.parse(text);
  } catch {
    // reported below, with the status
  }
  if (!res.ok || typeof answer.access_token !== 'string' || answer.access_token === '') {
    const reason = typeof answer.error === 'string' ? `${answer.error}${typeof answer.error_description === 'string' ? `: ${answer.error_description}` : ''}` : text.slice(0, 200);
    throw new OAuthTokenError(`the token endpoint ${tokenEndpointUrl} answered ${res.status} without a token: ${reason}`);
  }
  return answer.access_token;
}
