// DescribeCluster (key 60), v0-1: this one broker, which is also the controller. The cluster's authorized operations
// are told to a client that may DESCRIBE the cluster (0 to others), as Kafka does.
import { ErrorCode } from '../../protocol/errors.js';
import type { DescribeClusterRequest, DescribeClusterResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { clusterOperations, NOT_ASKED } from './acls.js';

const BROKERS_ENDPOINT = 1;

export const describeCluster: ApiHandler<DescribeClusterRequest, DescribeClusterResponse> = {
  apiKey: 60,
  minVersion: 0,
  maxVersion: 1,
  handle({ broker, connection }, req) {
    const { host, port } = connection.listener.advertised;
    if ((req.endpointType ?? BROKERS_ENDPOINT) !== BROKERS_ENDPOINT) {
      return {
        throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `endpoint type ${req.endpointType} is not served`,
        endpointType: req.endpointType, clusterId: broker.clusterId, controllerId: -1, brokers: [], clusterAuthorizedOperations: NOT_ASKED,
      };
    }
    return {
      throttleTimeMs: 0, errorCode: 0, errorMessage: null, endpointType: BROKERS_ENDPOINT, clusterId: broker.clusterId,
      controllerId: broker.config.nodeId, brokers: [{ brokerId: broker.config.nodeId, host, port, rack: null }],
      clusterAuthorizedOperations: clusterOperations(broker, connection, req.includeClusterAuthorizedOperations),
    };
  },
};
