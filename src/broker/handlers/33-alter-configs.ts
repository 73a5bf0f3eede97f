// AlterConfigs (key 33), v0-2. Replaces all of a topic's overrides (Kafka's non-incremental semantics);
// every value is validated before anything changes. Broker configs are static.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { AlterConfigsRequest, AlterConfigsResponse } from '../../protocol/messages.generated.js';
import { applyTopicConfigs } from '../../storage/log-config.js';
import type { ApiHandler } from '../handler.js';
import { toErrorCode } from './errors.js';
import { topicResource } from './topic-configs.js';

export const alterConfigs: ApiHandler<AlterConfigsRequest, AlterConfigsResponse> = {
  apiKey: 33,
  minVersion: 0,
  maxVersion: 2,
  async handle({ broker }, req) {
    const responses = [];
    for (const res of req.resources) {
      const out = { errorCode: 0, errorMessage: null as string | null, resourceType: res.resourceType, resourceName: res.resourceName };
      responses.push(out);
      try {
        const topic = topicResource(broker, res.resourceType, res.resourceName);
        const overrides: Record<string, string> = {};
        for (const c of res.configs) {
          if (c.value === null || c.value === undefined) throw new KafkaError(ErrorCode.INVALID_CONFIG, `config ${c.name} has a null value`);
          overrides[c.name] = c.value;
        }
        applyTopicConfigs(broker.logs.defaults, overrides);
        if (!req.validateOnly) await broker.logs.setTopicOverrides(topic.name, overrides);
      } catch (err) {
        Object.assign(out, toErrorCode(err));
      }
    }
    return { throttleTimeMs: 0, responses };
  },
};
