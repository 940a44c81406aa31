/**
 * Issue 15: ACLs stay per node (the same acl_file on every node) and a message is never
 * delivered across nodes to a subscriber whose ACL forbids it. Three broker processes on a
 * real redis-server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { haveRedis } from './helpers/redis-server.js';
import { clusterPerTest, reaches } from './helpers/cluster.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-cluster-acl-'));
const acl = path.join(dir, 'acl');
fs.writeFileSync(acl, ['user boss', 'topic readwrite #', 'user spy', 'topic read public/#', 'user pub', 'topic write #', ''].join('\n'));
fs.chmodSync(dir, 0o755);
fs.chmodSync(acl, 0o644);

describe.skipIf(!haveRedis())('cluster ACLs', { timeout: 60000 }, () => {
  const fx = clusterPerTest();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a subscriber on another node whose ACL forbids the topic gets nothing; one allowed gets it', async () => {
    const [a, b] = await fx.nodes(2, [`acl_file ${acl}`]);
    const boss = await b.connect({ clientId: 'boss', username: 'boss' });
    await boss.subscribe('secret/#', 0);
    const spy = await b.connect({ clientId: 'spy', username: 'spy' });
    await spy.subscribe('#', 0);
    const pub = await a.connect({ clientId: 'pub', username: 'pub' });
    await reaches(pub, boss, 'secret/probe');
    await reaches(pub, spy, 'public/probe');
    pub.publish('secret/x', 'classified', { qos: 0 });
    pub.publish('public/x', 'open', { qos: 0 });
    const got = await boss.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'secret/x', 8000);
    expect(String(got.payload)).toBe('classified');
    // Same stream, in order: once the later message reached the spy, the secret one was handled.
    await spy.waitFor((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'public/x', 8000);
    expect(spy.inbox.filter((p) => p.cmd === 'publish' && (p as IPublishPacket).topic.startsWith('secret/'))).toEqual([]);
  });
});
