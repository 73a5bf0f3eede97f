// AlterConfigs (key 33), v0-2. Replaces all of a topic's overrides, or all of a broker resource's dynamic topic
// defaults (Kafka's non-incremental semantics); every value is validated before anything changes. It needs
// ALTER_CONFIGS on the topic, or on the cluster for a broker (see requireConfigAccess).
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { AlterConfigsRequest, AlterConfigsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { alterConfigResources } from './config-resources.js';

export const alterConfigs: ApiHandler<AlterConfigsRequest, AlterConfigsResponse> = {
  apiKey: 33,
  minVersion: 0,
  maxVersion: 2,
  async handle({ broker, connection }, req) {
    const responses = await alterConfigResources(broker, connection, req.resources, req.validateOnly, (_inForce, res) => {
      const overrides: Record<string, string> = {};
      for (const c of res.configs) {
        if (c.value === null || c.value === undefined) throw new KafkaError(ErrorCode.INVALID_CONFIG, `config ${c.name} has a null value`);
        overrides[c.name] = c.value;
      }
      return overrides;
    });
    return { throttleTimeMs: 0, responses };
  },
};
