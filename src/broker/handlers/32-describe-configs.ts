// DescribeConfigs (key 32), v0-4. Topics: every topic config with its source (topic override, the broker's
// setting, or the built-in default) and, if asked, its synonyms. Brokers: the broker's static settings, read-only.
// It needs DESCRIBE_CONFIGS on the topic, or on the cluster for a broker (see requireConfigAccess).
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { DescribeConfigsRequest, DescribeConfigsResponse, DescribeConfigsResponseDescribeConfigsResult } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { toErrorCode } from './errors.js';
import { ConfigSource, ResourceType, describeBrokerConfigs, describeTopicConfigs, requireConfigAccess, type DescribedConfig } from './config-resources.js';
import { AclOperation } from '../../protocol/acl.js';

export const describeConfigs: ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse> = {
  apiKey: 32,
  minVersion: 0,
  maxVersion: 4,
  handle({ broker, connection }, req) {
    const results: DescribeConfigsResponseDescribeConfigsResult[] = req.resources.map((res) => {
      const out: DescribeConfigsResponseDescribeConfigsResult = {
        errorCode: 0, errorMessage: null, resourceType: res.resourceType, resourceName: res.resourceName, configs: [],
      };
      try {
        requireConfigAccess(broker, connection, AclOperation.DESCRIBE_CONFIGS, res.resourceType, res.resourceName);
        let configs: DescribedConfig[];
        if (res.resourceType === ResourceType.TOPIC) configs = describeTopicConfigs(broker, broker.logs.requireTopic(res.resourceName));
        else if (res.resourceType === ResourceType.BROKER) {
          if (res.resourceName !== '' && res.resourceName !== String(broker.config.nodeId)) {
            throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown broker ${res.resourceName}`);
          }
          configs = describeBrokerConfigs(broker, res.resourceName === '');
        } else throw new KafkaError(ErrorCode.INVALID_REQUEST, `resource type ${res.resourceType} is not supported`);
        const keys = res.configurationKeys;
        out.configs = configs
          .filter((c) => !keys || keys.length === 0 || keys.includes(c.name))
          .map((c) => ({
            name: c.name, value: c.value, readOnly: c.readOnly, isDefault: c.source === ConfigSource.DEFAULT_CONFIG,
            configSource: c.source, isSensitive: false, synonyms: req.includeSynonyms ? c.synonyms : [], configType: c.type, documentation: null,
          }));
      } catch (err) {
        Object.assign(out, toErrorCode(err));
      }
      return out;
    });
    return { throttleTimeMs: 0, results };
  },
};
