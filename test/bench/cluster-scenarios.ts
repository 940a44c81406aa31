// Issue 15: what the cluster costs. Both scenarios run ts-mosquitto with `cluster true`
// over the runner's redis-server, beside a second node (Scenario.peer):
// - cluster-local: publisher and subscriber on the same node, while the other node has
//   routes of its own (an unrelated filter): the local path with the route lookup; compare
//   with qos0.
// - cluster-cross-qos0 / -qos1: publisher on the first node, subscriber on the second:
//   every message crosses Redis (XADD, XREADGROUP); compare with qos0 / qos1.
import type { BrokerName, BrokerOptions } from './brokers.js';
import type { FlowSpec, Topology } from './protocol.js';
import { redisServerPath } from './redis-server.js';
import type { Scenario, Services, Sizes } from './scenarios.js';

type Flow = (port: number, s: Sizes, topology: Topology, over?: Partial<FlowSpec>) => FlowSpec;

const node = (svc: Services, name: string, extra: string[] = []): BrokerOptions => ({
  extraConf: [`redis_port ${svc.redisPort}`, 'redis_store none', 'cluster true', `cluster_node_name ${name}`, ...extra],
});

const skip = (b: BrokerName): string | undefined =>
  b !== 'ts' ? 'no cluster' : redisServerPath() ? undefined : 'redis-server not installed';

export function clusterScenarios(flow: Flow, one: Topology, flowTimeout: (s: Sizes) => number): Scenario[] {
  return [
    {
      name: 'cluster-local',
      redis: true,
      title: () => 'QoS 0, 1:1 on one node of a 2-node cluster (the other has routes of its own)',
      metric: 'rate',
      skip,
      broker: (_b, _f, _d, svc) => node(svc, 'bench-a'),
      peer: (svc) => node(svc, 'bench-b'),
      spec: (port, s) => flow(port, s, one),
      timeoutMs: flowTimeout,
    },
    ...([0, 1] as const).map(
      (qos): Scenario => ({
        name: `cluster-cross-qos${qos}`,
        redis: true,
        tcpNoDelay: qos === 1,
        title: () => `QoS ${qos}, 1:1, publisher on node A, subscriber on node B (through Redis)`,
        metric: 'rate',
        skip,
        broker: (_b, _f, _d, svc) => node(svc, 'bench-a'),
        peer: (svc) => node(svc, 'bench-b'),
        spec: (port, s, _f, _b, svc) => flow(port, s, one, { qos, subscriberPort: svc.peerPort }),
        timeoutMs: flowTimeout,
      }),
    ),
  ];
}
