// IncrementalAlterConfigs (key 44), v0-1. SET (0) and DELETE (1) change single topic overrides; APPEND (2)
// and SUBTRACT (3) apply to list configs (cleanup.policy). The result is validated as a whole first.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from '../../protocol/messages.generated.js';
import { applyTopicConfigs } from '../../storage/log-config.js';
import type { ApiHandler } from '../handler.js';
import { toErrorCode } from './errors.js';
import { topicResource } from './topic-configs.js';

const Op = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
const LIST_CONFIGS = new Set(['cleanup.policy']);

export const incrementalAlterConfigs: ApiHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> = {
  apiKey: 44,
  minVersion: 0,
  maxVersion: 1,
  async handle({ broker }, req) {
    const responses = [];
    for (const res of req.resources) {
      const out = { errorCode: 0, errorMessage: null as string | null, resourceType: res.resourceType, resourceName: res.resourceName };
      responses.push(out);
      try {
        const topic = topicResource(broker, res.resourceType, res.resourceName);
        const overrides = { ...topic.overrides };
        for (const c of res.configs) {
          const value = c.value ?? '';
          switch (c.configOperation) {
            case Op.SET:
              if (c.value === null || c.value === undefined) throw new KafkaError(ErrorCode.INVALID_CONFIG, `config ${c.name} has a null value`);
              overrides[c.name] = value;
              break;
            case Op.DELETE:
              delete overrides[c.name];
              break;
            case Op.APPEND:
            case Op.SUBTRACT: {
              if (!LIST_CONFIGS.has(c.name)) throw new KafkaError(ErrorCode.INVALID_CONFIG, `${c.name} is not a list config`);
              const current = (overrides[c.name] ?? String((topic.config as unknown as Record<string, unknown>).cleanupPolicy)).split(',').filter(Boolean);
              const items = value.split(',').filter(Boolean);
              const next = c.configOperation === Op.APPEND ? [...new Set([...current, ...items])] : current.filter((x) => !items.includes(x));
              overrides[c.name] = next.join(',');
              break;
            }
            default:
              throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown config operation ${c.configOperation}`);
          }
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
