/**
 * Bridge topic remapping: the table of mosquitto.conf(5) ("topic pattern ... local-prefix
 * remote-prefix"), first matching prefixed topic wins, and the remote (un)subscriptions.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/broker/config/index.js';
import {
  localSubscriptions,
  remoteSubscriptions,
  remoteUnsubscriptions,
  toLocal,
  toRemote,
  topicMap,
} from '../src/broker/bridge/topic-map.js';

function topics(...lines: string[]) {
  const { config } = parseConfigText(['connection b', 'address 127.0.0.1', ...lines, ''].join('\n'), 't.conf', { hostname: 'h' });
  return config.bridges[0].topics;
}

describe('bridge topic remapping', () => {
  it('follows the man page table: L/ R/, L/ "", "" R/, "" "", and "" pattern with both prefixes', () => {
    const cases: [string, string, string][] = [
      ['topic pattern both 0 L/ R/', 'L/pattern', 'R/pattern'],
      ['topic pattern both 0 L/ ""', 'L/pattern', 'pattern'],
      ['topic pattern both 0 "" R/', 'pattern', 'R/pattern'],
      ['topic pattern both 0 "" ""', 'pattern', 'pattern'],
      ['topic "" both 0 local remote', 'local', 'remote'],
    ];
    for (const [line, local, remote] of cases) {
      const map = topicMap(topics(line));
      expect(toRemote(map, local), line).toBe(remote);
      expect(toLocal(map, remote), line).toBe(local);
    }
  });

  it('remaps whole trees with wildcards, and leaves topics no prefixed topic matches alone', () => {
    const map = topicMap(topics('topic # both 2 local/topic/ remote/topic/', 'topic clients/total in 0 test/mosquitto/org/ $SYS/broker/'));
    expect(toRemote(map, 'local/topic/a/b')).toBe('remote/topic/a/b');
    expect(toLocal(map, 'remote/topic/a/b')).toBe('local/topic/a/b');
    expect(toLocal(map, '$SYS/broker/clients/total')).toBe('test/mosquitto/org/clients/total');
    expect(toRemote(map, 'elsewhere/x')).toBe('elsewhere/x');
  });

  it('uses direction: out topics remap outgoing messages only, in topics incoming only', () => {
    const map = topicMap(topics('topic a/# out 0 lo/ ro/', 'topic b/# in 0 li/ ri/'));
    expect(toRemote(map, 'lo/a/1')).toBe('ro/a/1');
    expect(toLocal(map, 'ro/a/1')).toBe('ro/a/1');
    expect(toLocal(map, 'ri/b/1')).toBe('li/b/1');
    expect(toRemote(map, 'li/b/1')).toBe('li/b/1');
  });

  it('the first matching prefixed topic in configuration order decides', () => {
    const map = topicMap(topics('topic a/# out 0 x/ one/', 'topic a/b out 0 x/ two/'));
    expect(toRemote(map, 'x/a/b')).toBe('one/a/b');
  });

  it('subscribes remotely to in and both topics, unsubscribes out topics, watches out and both topics locally', () => {
    const t = topics('topic a/# out 1 lo/ ro/', 'topic b/# in 2 li/ ri/', 'topic c/# both 0');
    expect(remoteSubscriptions(t)).toEqual([
      { topic: 'ri/b/#', qos: 2 },
      { topic: 'c/#', qos: 0 },
    ]);
    expect(remoteUnsubscriptions(t)).toEqual(['ro/a/#']);
    expect(localSubscriptions(t)).toEqual([
      { topic: 'lo/a/#', qos: 1 },
      { topic: 'c/#', qos: 0 },
    ]);
  });
});
