// IncrementalAlterConfigs (key 44), v0-1. SET (0) and DELETE (1) change single topic overrides, or dynamic topic
// defaults of a broker resource; APPEND (2) and SUBTRACT (3) apply to list configs (cleanup.policy). The result
// is validated as a whole first. It needs ALTER_CONFIGS on the topic, or on the cluster for a broker.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { alterConfigResources } from './config-resources.js';

const Op = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
const LIST_CONFIGS = new Set(['cleanup.policy', 'log.cleanup.policy']);

export const incrementalAlterConfigs: ApiHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> = {
  apiKey: 44,
  minVersion: 0,
  maxVersion: 1,
  async handle({ broker, connection }, req) {
    const responses = await alterConfigResources(broker, connection, req.resources, req.validateOnly, (inForce, res) => {
      const overrides = { ...inForce.set };
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
            const current = (overrides[c.name] ?? inForce.listValue(c.name)).split(',').filter(Boolean);
            const items = value.split(',').filter(Boolean);
            const next = c.configOperation === Op.APPEND ? [...new Set([...current, ...items])] : current.filter((x) => !items.includes(x));
            overrides[c.name] = next.join(',');
            break;
          }
          default:
            throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown config operation ${c.configOperation}`);
        }
      }
      return overrides;
    });
    return { throttleTimeMs: 0, responses };
  },
};
