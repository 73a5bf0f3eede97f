// ApiVersions (key 18), v0-4. Advertises exactly the handlers' version ranges. A version we do not know is
// answered in dispatch with a v0 body carrying UNSUPPORTED_VERSION, so the client can retry lower.
import type { ApiVersionsRequest, ApiVersionsResponse, ApiVersionsResponseApiVersion } from '../../protocol/messages.generated.js';
import type { Broker } from '../broker.js';
import type { ApiHandler } from '../handler.js';

export function supportedApiKeys(broker: Broker): ApiVersionsResponseApiVersion[] {
  return [...broker.handlers.values()]
    .sort((a, b) => a.apiKey - b.apiKey)
    .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }));
}

export const apiVersions: ApiHandler<ApiVersionsRequest, ApiVersionsResponse> = {
  apiKey: 18,
  minVersion: 0,
  maxVersion: 4,
  handle: ({ broker }) => ({ errorCode: 0, apiKeys: supportedApiKeys(broker), throttleTimeMs: 0 }),
};
