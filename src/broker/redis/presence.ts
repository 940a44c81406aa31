/**
 * Presence (issue 7): the `mqtt` hash (client id -> online/offline) as the Mosquitto fork
 * keeps it, plus mqtt:client:<clientid> (state, online_at, offline_at) and this broker's
 * node hash mqtt:node:<node> (client id -> connect time).
 *
 * Takeover safety: every connection gets a token, written as the `conn` field of
 * mqtt:client:<clientid> when it goes online. Going offline is a script that only applies
 * if `conn` still holds that connection's token, so the offline write of an old
 * connection can never land on top of a newer connection's online state, whichever
 * broker either of them is on and in whatever order the writes arrive.
 */
import type { Log } from '../log.js';
import type { RedisLink } from './connection.js';
import { clientKey, nodeKey, unixSeconds } from './keys.js';
import type { BrokerCore, ClientContext } from '../core.js';

export class Presence {
  private readonly tokens = new WeakMap<ClientContext, string>();
  private readonly onlineAt = new WeakMap<ClientContext, number>();
  private counter = 0;
  private readonly nodeHash: string;

  constructor(
    private readonly broker: BrokerCore,
    private readonly link: RedisLink,
    private readonly log: Log,
    private readonly presenceKey: string,
    private readonly node: string,
    private readonly readTimeoutMs: number,
  ) {
    this.nodeHash = nodeKey(node);
  }

  online(client: ClientContext): void {
    const id = client.clientId;
    this.log.notice(`Updating client ${id} to online`);
    const token = `${this.node}#${process.pid}#${++this.counter}`;
    this.tokens.set(client, token);
    this.onlineAt.set(client, unixSeconds());
    this.writeOnline(client, token);
  }

  offline(client: ClientContext): void {
    const token = this.tokens.get(client);
    if (token === undefined) return;
    this.tokens.delete(client);
    const id = client.clientId;
    this.log.notice(`Updating client ${id} to offline`);
    // Only if mqtt:client:<id> still names this connection (own-scripts.ts, @offline).
    this.link.send(['@offline', this.presenceKey, clientKey(id), id, token, unixSeconds()]);
    this.link.send(['HDEL', this.nodeHash, id]);
  }

  private writeOnline(client: ClientContext, token: string): void {
    const id = client.clientId;
    const at = this.onlineAt.get(client) ?? unixSeconds();
    this.link.send(['HSET', this.presenceKey, id, 'online']);
    this.link.send(['HSET', clientKey(id), 'state', '1', 'online_at', at, 'node', this.node, 'conn', token]);
    this.link.send(['HSET', this.nodeHash, id, at]);
  }

  /** Clients connected here now, with their presence token. */
  private connected(): Map<string, ClientContext> {
    const out = new Map<string, ClientContext>();
    for (const session of this.broker.sessions.values()) {
      const c = session.client;
      if (c !== null && this.tokens.has(c)) out.set(c.clientId, c);
    }
    return out;
  }

  /**
   * On every (re)connection to Redis: mark offline what the node hash holds that is not
   * connected here (a previous run, or clients that left while Redis was away), then
   * rewrite the presence of every connected client. Runs before buffered writes go out;
   * the set of connected clients is taken after the read so that a client connecting
   * meanwhile is never marked offline.
   */
  async resync(): Promise<void> {
    const listed = await this.link.read((r) => r.hgetall(this.nodeHash), this.readTimeoutMs);
    const now = this.connected();
    const ts = unixSeconds();
    // Kept even if writes buffered during the outage filled the buffer (RedisLink.essential).
    this.link.essential(() => {
      for (const id of Object.keys(listed)) {
        // '' is the cluster's lease field (cluster/keys.ts), never a client id.
        if (now.has(id) || id === '') continue;
        // Only if the client's last connection was on this node (own-scripts.ts, @stale).
        this.link.send(['@stale', this.presenceKey, clientKey(id), this.nodeHash, id, this.node, ts]);
      }
      for (const c of now.values()) this.writeOnline(c, this.tokens.get(c)!);
    });
  }
}

