/**
 * Scale-out (issue 15) as a broker plugin: nodes sharing one Redis act as one broker.
 * Each node keeps its own clients, sessions and subscription tree; Redis holds what they
 * share: the leases (membership.ts), the route table (routes.ts), a stream per node for
 * messages (stream.ts), and the channel for membership, routes and session takeovers
 * (handover.ts), at-most-once: after a gap in its subscription the node reads back from
 * Redis what the channel carries (channel.ts, resync()). Retained messages are the Redis plugin's (mqtt:retain:*), loaded at
 * start; their changes travel to every node through the streams.
 *
 * The message path: onPublish looks up the cached route tree (one Map lookup once a
 * topic was seen) and appends the message to the stream of each node that has a
 * matching route, and nothing else; a message that came from another node is delivered
 * by the ordinary local path and not forwarded again.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ClusterConfig, RedisConfig } from '../config/types.js';
import type { Message } from '../message.js';
import type { SubscriptionOptions } from '../router.js';
import type { BrokerCore, BrokerPlugin, ClientContext, Outgoing, OutgoingEvent, Session } from '../core.js';
import { describeRedis, ioredisOptions, onNodeReconnected, openClient, type RedisClient } from '../redis/link-options.js';
import { clientKey, useHashTag } from '../redis/keys.js';
import { adopt, giveUp } from './handover.js';
import { ChannelSub } from './channel.js';
import { claimKey, nodeKey, routeKey, sessionKey, streamKey, willKey, type ClusterEvent, type HandedSession } from './keys.js';
import { measureClock } from './clock.js';
import { Membership, NameInUseError } from './membership.js';
import { Routes } from './routes.js';
import { Forwarder } from './forward.js';
import { markOffline, SessionMirror } from './sessions.js';
import { decodeEntry, StreamIn, StreamOut } from './stream.js';

export interface ClusterPlugin extends BrokerPlugin {
  readonly name: string;
  readonly stats: {
    dropped(): number;
    forwarded(): number;
    received(): number;
    nodes(): string[];
    /** Linked to Redis and (re)joined: false while Redis is lost and until the lease is taken again. */
    connected(): boolean;
  };
}

/** The default node name: the host name plus the first listener's port. */
export function clusterNodeName(config: ClusterConfig, port: number | undefined): string {
  return config.nodeName ?? `${os.hostname()}:${port ?? 1883}`;
}

const TAKEOVER_WAIT_MS = 1000;
const START_WAIT_MS = 3000;
/** A rejoin that failed while Redis was up is tried again after this, ms. */
const REJOIN_RETRY_MS = 1000;

export function createClusterPlugin(redis: RedisConfig, config: ClusterConfig, name: string): ClusterPlugin {
  const token = `${name}#${process.pid}#${randomBytes(6).toString('hex')}`;
  if (redis.clusterNodes !== null) useHashTag(redis.presenceKey);
  const link = { url: redis.url, host: redis.host, port: redis.port, password: redis.password, db: redis.db, cluster: redis.clusterNodes };
  const ro = {
    ...ioredisOptions(link),
    // The cluster's writes wait while Redis is away (bounded by StreamOut's count) and go out when it returns.
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    autoResendUnfulfilledCommands: true,
  };
  const open = (pipelined = false): RedisClient =>
    // The commands connection sends the XADDs of one event-loop turn as one write.
    openClient(link, pipelined ? { ...ro, enableAutoPipelining: true } : ro);
  let broker!: BrokerCore;
  let cmd!: RedisClient;
  let sub!: ChannelSub;
  let reader!: RedisClient;
  let members!: Membership;
  let routes!: Routes;
  let out!: StreamOut;
  let input!: StreamIn;
  let fwd!: Forwarder;
  let mirror!: SessionMirror;
  /** The lease is held over the current connection (joined since the last loss of Redis). */
  let linked = false;
  /** The channel was subscribed again before the node rejoined: reload once it has. */
  let resyncAfterJoin = false;
  const handed = new WeakMap<ClientContext, HandedSession>();
  const waiting = new Map<string, { left: Set<string>; done: () => void; session: HandedSession | null }>();

  const publishNodes = (): void => {
    broker.publishInternal('$SYS/broker/cluster/nodes', [...members.live].sort().join(' '), 0, true);
  };

  const onEvent = (raw: string): void => {
    let e: ClusterEvent;
    try {
      e = JSON.parse(raw) as ClusterEvent;
    } catch {
      return;
    }
    if (e.node === name) return;
    switch (e.op) {
      case 'join':
      case 'leave':
      case 'dead':
        members.heard(e);
        return;
      case 'routes':
        // The node rewrote its routes (it rejoined Redis): read them again, after the rewrite.
        if (!members.live.has(e.node)) members.heard({ op: 'join', node: e.node });
        else void routes.load([e.node]).catch(() => {});
        return;
      case 'route':
        routes.heardRoute(e.node, e.filter, e.qos);
        return;
      case 'unroute':
        routes.heardRoute(e.node, e.filter, null);
        return;
      case 'takeover': {
        if (e.to !== name && e.to !== '*') return;
        const session = giveUp(broker, broker.log, e.id, !e.clean, e.node);
        members.announce({ op: 'handed', node: name, id: e.id, to: e.node, session });
        return;
      }
      case 'handed': {
        if (e.to !== name) return;
        const w = waiting.get(e.id);
        if (w === undefined) return;
        if (e.session !== null) w.session = e.session;
        w.left.delete(e.node);
        if (w.left.size === 0) w.done();
        return;
      }
    }
  };

  /**
   * A dead node claimed here: its persistent sessions are rebuilt here and get what its
   * stream still held; its clients' wills are published, cluster-wide.
   */
  const adoptSessions = async (node: string, how: 'dead' | 'left'): Promise<void> => {
    const adopted = await mirror.adoptFrom(node);
    if (adopted.length === 0) return;
    broker.log.notice(`Cluster: took over ${adopted.length} persistent session${adopted.length === 1 ? '' : 's'} of ${how} node ${node}.`);
    // Read a page at a time: an entry holds up to BATCH_MAX messages.
    for (let from = '-'; ; ) {
      const entries = (await cmd.xrangeBuffer(streamKey(node), from, '+', 'COUNT', 64)) as [Buffer, Buffer[]][];
      for (const [, fields] of entries) decodeEntry(fields, (e) => e.mode !== 'r' && mirror.deliverTo(adopted, e.msg));
      if (entries.length < 64) break;
      from = '(' + entries[entries.length - 1][0].toString();
    }
    await cmd.del(streamKey(node));
  };

  const claimDead = async (node: string): Promise<void> => {
    routes.dropNode(node);
    await adoptSessions(node, 'dead');
    const offline = await markOffline(cmd, redis.presenceKey, node);
    if (offline > 0) broker.log.notice(`Cluster: ${offline} client${offline === 1 ? '' : 's'} of dead node ${node} marked offline.`);
    const wills = await cmd.hgetallBuffer(willKey(node));
    // One key per DEL: on a Redis Cluster they live in different slots.
    await Promise.all([cmd.del(willKey(node)), cmd.del(routeKey(node)), cmd.del(streamKey(node))]);
    for (const [id, raw] of Object.entries(wills)) {
      try {
        const w = JSON.parse(raw.toString()) as { t: string; p: string; q: 0 | 1 | 2; r: boolean };
        broker.log.notice(`Cluster: publishing the will of client ${id} of dead node ${node}.`);
        broker.publishInternal(w.t, Buffer.from(w.p, 'base64'), w.q, w.r);
      } catch {
        // Not ours: skipped.
      }
    }
  };

  /**
   * The channel was subscribed again after a gap (channel.ts): what it announced meanwhile
   * was lost, so what Redis keeps of it is read again, the routes after the membership.
   */
  const resync = async (): Promise<void> => {
    // Redis itself was lost: once the node has rejoined (the commands connection's 'ready').
    if (!linked) {
      resyncAfterJoin = true;
      return;
    }
    broker.log.info(`Cluster: channel subscribed again; reloading membership, routes and takeovers from Redis.`);
    try {
      await members.refresh();
      await routes.load(members.live);
      await missedTakeovers();
    } catch {
      // Redis went away again: the next subscription or the rejoin reloads.
    }
  };

  /** Client ids whose session went to another node by a takeover this node missed: their mirror is that node's now. */
  const lostTo = new Set<string>();

  /**
   * Takeovers announced while the channel was down: a client connected here that Redis's
   * presence (the Redis plugin's mqtt:client:<id>, written when a client connects) says
   * is connected on another live node, whose presence hash lists it too (a client that
   * moved here from there was removed from it before its CONNACK here). Its connection here is closed as the takeover would have closed it
   * (MQTT 5: 0x8E); the session here is forgotten (the other node already answered its
   * CONNACK, so nothing can be handed to it any more).
   */
  const missedTakeovers = async (): Promise<void> => {
    const here: string[] = [];
    for (const s of broker.sessions.values()) if (s.client !== null) here.push(s.clientId);
    for (let i = 0; i < here.length; i += 1000) {
      const ids = here.slice(i, i + 1000);
      const p = cmd.pipeline();
      for (const id of ids) p.hmget(clientKey(id), 'node', 'state').hget(sessionKey(id), 'node');
      const res = (await p.exec()) ?? [];
      const check = cmd.pipeline();
      const suspects: { id: string; node: string; keep: boolean }[] = [];
      ids.forEach((id, k) => {
        const [node, state] = (res[2 * k]?.[1] as (string | null)[] | undefined) ?? [];
        if (node == null || node === name || state !== '1' || !members.live.has(node)) return;
        suspects.push({ id, node, keep: res[2 * k + 1]?.[1] === node });
        check.hexists(nodeKey(node), id);
      });
      if (suspects.length === 0) continue;
      const there = (await check.exec()) ?? [];
      suspects.forEach(({ id, node, keep }, k) => {
        if (there[k]?.[1] !== 1) return;
        const s = broker.sessions.get(id);
        if (s === undefined || s.client === null) return;
        broker.log.notice(`Cluster: client ${id} was taken over by node ${node} while the channel was down.`);
        if (!s.clean) lostTo.add(id);
        giveUp(broker, broker.log, id, keep, node);
        lostTo.delete(id);
      });
    }
  };

  /**
   * After this node took its lease again (Redis came back, possibly empty, or the lease had
   * lapsed): its routes are written again, then announced, so that a node that read them
   * before the rewrite (and found none) reads them again.
   */
  const rewriteRoutes = async (): Promise<void> => {
    await routes.rewrite();
    await members.announce({ op: 'routes', node: name });
  };

  /** A rejoin is under way; `rejoinAgain`: Redis came back again meanwhile, run it once more. */
  let rejoining = false;
  let rejoinAgain = false;
  let stopping = false;

  /**
   * Redis came back (the commands connection's 'ready', or on a Redis Cluster a node's
   * connection made again), possibly without its data (restarted without persistence): the
   * lease again, this node's routes, the others' as they are now, and a channel resync put
   * off until now. One at a time; a failure while Redis is up is retried a second later.
   */
  const rejoin = (): void => {
    if (stopping) return;
    if (rejoining) {
      rejoinAgain = true;
      return;
    }
    rejoining = true;
    void (async () => {
      do {
        rejoinAgain = false;
        // The membership set may have been lost with Redis's data: nobody is judged for a lease.
        members.reconnected();
        try {
          await measureClock(cmd);
          await members.join();
          linked = true;
          await rewriteRoutes();
          await routes.load(members.live);
          if (resyncAfterJoin) {
            resyncAfterJoin = false;
            await resync();
          }
        } catch (e) {
          // Redis went away again (its next 'ready' rejoins), or the name is another live node's now.
          if (stopping || e instanceof NameInUseError || cmd.status !== 'ready') break;
          await new Promise((r) => setTimeout(r, REJOIN_RETRY_MS).unref());
          rejoinAgain = true;
        }
      } while (rejoinAgain && !stopping);
      rejoining = false;
    })();
  };

  const plugin: ClusterPlugin = {
    name,
    stats: {
      dropped: () => out?.dropped ?? 0,
      forwarded: () => fwd?.forwarded ?? 0,
      received: () => fwd?.received ?? 0,
      nodes: () => [...(members?.live ?? [])].sort(),
      connected: () => linked && cmd?.status === 'ready' && sub?.up() === true,
    },

    async init(b: BrokerCore): Promise<void> {
      broker = b;
      const log = b.log;
      cmd = open(true);
      reader = open();
      for (const c of [cmd, reader]) c.on('error', () => {});
      // Named, so that an operator (and the tests) can tell it in CLIENT LIST.
      const subName = `tsm-cluster-sub:${name}`.replace(/[^!-~]/g, '_');
      const single = redis.clusterNodes === null ? openClient(link, { ...ro, connectionName: subName }) : null;
      single?.on('error', () => {});
      sub = new ChannelSub(single, single === null ? { cmd, seeds: redis.clusterNodes!, options: { ...ro, connectionName: subName } } : null, onEvent, () => void resync(), subName);
      out = new StreamOut(cmd, log, config.maxHeld);
      mirror = new SessionMirror(b, cmd, name);
      routes = new Routes(cmd, name, (filter, qos) =>
        members.announce(qos === null ? { op: 'unroute', node: name, filter } : { op: 'route', node: name, filter, qos }),
      );
      // Before anything is heard: a join heard during init publishes $SYS (retained).
      fwd = new Forwarder(b, routes, out, name, () => members.live);
      b.sharedGate = fwd.gate;
      members = new Membership(cmd, name, token, config.lease * 1000, log, (node, how) => {
        if (how !== 'join') routes.dropNode(node);
        else void routes.load([node]).catch(() => {});
        // A node that shut down leaves its persistent sessions in Redis: one survivor takes them.
        if (how === 'leave') {
          void cmd
            .set(claimKey(node), name, 'PX', 10_000, 'NX')
            .then((won) => (won === 'OK' ? adoptSessions(node, 'left') : undefined))
            .catch(() => {});
        }
        publishNodes();
      }, claimDead, () => void rewriteRoutes().catch(() => {}));
      const connected = Promise.race([
        Promise.all([cmd.connect(), sub.start(), reader.connect()]),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), START_WAIT_MS).unref()),
      ]);
      try {
        await connected;
      } catch {
        const where = redis.clusterNodes !== null ? describeRedis(link) : redis.url !== null ? 'redis_url' : `${redis.host}:${redis.port}`;
        throw new Error(`Cluster: unable to reach Redis at ${where}.`);
      }
      await measureClock(cmd);
      await members.join();
      linked = true;
      await routes.rewrite();
      await routes.load(members.live);
      input = new StreamIn(reader, cmd, name, (e) => fwd.receive(e));
      await input.start();
      // After an outage: the lease again, this node's routes, and the others' as they are now.
      cmd.on('close', () => {
        linked = false;
      });
      cmd.on('ready', rejoin);
      // A Redis Cluster can restart (a node or all of them) without the client's 'ready'.
      onNodeReconnected(cmd, rejoin);
    },

    start(): void {
      publishNodes();
    },

    async stop(): Promise<void> {
      stopping = true;
      input?.stop();
      // This turn's messages for other nodes go before the leave (same connection, in order).
      out?.flush();
      // What Redis still refuses then is given up with the node (its clients are gone).
      out?.close();
      if (cmd?.status === 'ready') {
        await Promise.all([cmd.del(routeKey(name)), cmd.del(willKey(name))]).catch(() => {});
        await Promise.all(routes.localFilters().map((filter) => members.announce({ op: 'unroute', node: name, filter })));
      }
      await members?.leave();
      sub?.stop();
      for (const c of [cmd, reader]) c?.disconnect();
    },

    onClientConnecting(client: ClientContext): Promise<void> | void {
      const others = [...members.live].filter((n) => n !== name);
      if (others.length === 0 || cmd.status !== 'ready') return;
      const id = client.clientId;
      return new Promise<void>((resolve) => {
        const w = { left: new Set(others), session: null as HandedSession | null, done: () => {} };
        const timer = setTimeout(() => w.done(), TAKEOVER_WAIT_MS);
        w.done = (): void => {
          clearTimeout(timer);
          if (waiting.get(id) === w) waiting.delete(id);
          if (w.session !== null) handed.set(client, w.session);
          resolve();
        };
        waiting.set(id, w);
        members.announce({ op: 'takeover', node: name, id, clean: client.cleanStart, to: '*' });
      }).then(() => {
        const h = handed.get(client);
        if (h !== undefined && !client.cleanStart) {
          adopt(broker, client, h);
          const s = broker.sessions.get(client.clientId);
          if (s !== undefined) mirror.mirrorAll(s);
        }
      });
    },

    onClientConnected(client: ClientContext): void {
      if (client.session !== null) mirror.held(client.session);
      const w = client.will;
      if (w === null) return;
      const rec = JSON.stringify({ t: w.topic, p: w.payload.toString('base64'), q: w.qos, r: w.retain });
      cmd.hset(willKey(name), client.clientId, rec).catch(() => {});
    },

    onClientDisconnected(client: ClientContext): void {
      cmd.hdel(willKey(name), client.clientId).catch(() => {});
    },

    onSubscribe(session: Session, filter: string, options: SubscriptionOptions): void {
      const s = session.subscriptions.get(filter);
      const tree = s?.treeFilter ?? filter;
      // A shared subscription's route names its group: $share/<group>/<tree filter>.
      routes.added(session.clientId, filter, s?.shareGroup !== undefined ? `$share/${s.shareGroup}/${tree}` : tree, options.qos);
    },

    onUnsubscribe(session: Session, filter: string): void {
      routes.removed(session.clientId, filter);
    },

    onSessionDestroyed(session: Session): void {
      routes.sessionGone(session.clientId);
      if (!session.clean) mirror.destroyed(session, lostTo.has(session.clientId));
    },

    onOutgoing(session: Session, o: Outgoing, event: OutgoingEvent): void {
      mirror.outgoing(session, o, event);
    },

    onRetain(msg: Message): void {
      fwd.onRetain(msg);
    },

    onPublish(msg: Message): boolean {
      return fwd.onPublish(msg);
    },

    onQos2Received(msg: Message): void {
      fwd.onQos2Received(msg);
    },
  };
  return plugin;
}
