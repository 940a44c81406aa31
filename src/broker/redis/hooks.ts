/**
 * Command hooks (issue 7): `redis_hook EVENT [topic=FILTER] [pool=NAME] COMMAND ARG...`
 * runs a Redis command on a broker event. Arguments may hold ${clientid}, ${username},
 * ${topic}, ${qos}, ${payload}, ${msgid}, ${node} and ${ts}; each argument is expanded on
 * its own and stays ONE Redis argument whatever it contains, so a payload with spaces or
 * newlines cannot inject a command. An argument that is exactly ${payload} is passed as
 * the payload's bytes (binary-safe).
 *
 * Templates are compiled once into RESP: the command and every literal argument are
 * encoded at start (resp-queue.ts), so firing a hook only encodes the ${...} arguments
 * into the connection's write buffer: no command array, object or promise per message,
 * never a wait.
 */
import { topicMatches } from '../../protocol/index.js';
import type { RedisHook, RedisHookEvent } from '../config/types.js';
import type { Log } from '../log.js';
import type { Message } from '../message.js';
import type { RedisLink } from './connection.js';
import { encodeBulk, encodeHead } from './resp-queue.js';

export const HOOK_VARIABLES = ['clientid', 'username', 'topic', 'qos', 'payload', 'msgid', 'node', 'ts'] as const;
export type HookVariable = (typeof HOOK_VARIABLES)[number];

/** What an event knows; variables it does not know expand to the empty string. */
export interface HookContext {
  clientid?: string;
  username?: string;
  topic?: string;
  qos?: number;
  payload?: Buffer;
  /** The message of message.* events: its id is made only if a template uses ${msgid}. */
  message?: Message;
}

/** A literal piece of an argument, or a variable to put in its place. */
type Part = string | { v: HookVariable };

/** Variables whose value is the same for many messages: arguments made of one of them are cached. */
const CACHEABLE = new Set<HookVariable>(['clientid', 'username', 'topic', 'qos']);
/** Encoded arguments kept per step; the cache starts over when full. */
const CACHE_LIMIT = 1024;

/**
 * One step of writing a hook's command: bytes encoded at start (`raw`: the head and
 * literal arguments, adjacent ones joined), an argument that is exactly ${payload}, an
 * argument with variables encoded per message (`parts`), or a run of the command that
 * depends on one variable only (`key`: `*3 RPUSH pub:${topic}`, or a whole
 * `LTRIM pub:${topic} -1000 -1`), encoded once per value of that variable and copied in
 * after that: the same bytes, without building and encoding strings per message.
 */
export class Op {
  private cache: Map<string, Buffer> | null = null;
  private lastValue: string | undefined;
  private lastBytes: Buffer | null = null;

  constructor(
    readonly raw: Buffer | null,
    readonly payload: boolean,
    readonly parts: Part[] | null,
    /** The variable of a keyed run, and its pieces: literal bytes, or argument templates. */
    readonly key: HookVariable | null = null,
    private readonly pieces: (Buffer | Part[])[] = [],
  ) {}

  /** The encoded run for `value` of the key variable. */
  encoded(value: string): Buffer {
    if (value === this.lastValue) return this.lastBytes!;
    let b = this.cache?.get(value);
    if (b === undefined) {
      b = Buffer.concat(
        this.pieces.map((piece) => {
          if (Buffer.isBuffer(piece)) return piece;
          let s = '';
          for (const p of piece) s += typeof p === 'string' ? p : value;
          return encodeBulk(s);
        }),
      );
      this.cache ??= new Map();
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(value, b);
    }
    this.lastValue = value;
    this.lastBytes = b;
    return b;
  }
}

/** The one CACHEABLE variable an argument uses, or null (none, several, or another). */
function keyOf(parts: Part[]): HookVariable | null {
  let key: HookVariable | null = null;
  for (const p of parts) {
    if (typeof p === 'string') continue;
    if (!CACHEABLE.has(p.v) || (key !== null && key !== p.v)) return null;
    key = p.v;
  }
  return key;
}

interface CompiledHook {
  topic: string | null;
  link: RedisLink;
  command: string;
  ops: Op[];
}

const KNOWN = new Set<string>(HOOK_VARIABLES);

/**
 * Commands a hook may not run. Hooks share one pipelined write connection whose replies
 * are only counted, so a command that blocks it, changes its state (database,
 * transaction, subscriptions, reply mode, authentication) or ends it would stall or
 * misdirect every write after it. (Inside the former batch script Redis refused most of
 * these anyway.)
 */
const UNFIT = new Set([
  'AUTH', 'HELLO', 'SELECT', 'SWAPDB', 'MULTI', 'EXEC', 'DISCARD', 'WATCH', 'UNWATCH', 'RESET', 'QUIT',
  'SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE', 'MONITOR',
  'CLIENT', 'SYNC', 'PSYNC', 'REPLCONF', 'SHUTDOWN', 'DEBUG', 'WAIT', 'WAITAOF',
  'BLPOP', 'BRPOP', 'BRPOPLPUSH', 'BLMOVE', 'BLMPOP', 'BZPOPMIN', 'BZPOPMAX', 'BZMPOP',
]);

/** Why a hook's command cannot run on the write connection, or null. */
export function unfitForPipeline(command: string, args: string[]): string | null {
  const c = command.toUpperCase();
  if (UNFIT.has(c)) return 'the command would block or change the shared write connection';
  // XREAD/XREADGROUP only block with BLOCK.
  if ((c === 'XREAD' || c === 'XREADGROUP') && args.some((a) => a.toUpperCase() === 'BLOCK')) {
    return 'the command would block the shared write connection';
  }
  return null;
}

/** Splits an argument template into literals and ${variables}; unknown ${names} stay literal. */
export function compileArgument(template: string): Part[] | 'payload' {
  if (template === '${payload}') return 'payload';
  const parts: Part[] = [];
  const re = /\$\{([a-z]+)\}/g;
  let last = 0;
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    if (!KNOWN.has(m[1])) continue;
    if (m.index > last) parts.push(template.slice(last, m.index));
    parts.push({ v: m[1] as HookVariable });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return parts;
}

/**
 * The steps that write `command args...` as RESP (see Op). ${node} is known at start and
 * becomes literal text.
 */
export function compileCommand(command: string, args: string[], node: string): Op[] {
  const ops: Op[] = [];
  let lits: Buffer[] = [encodeHead(1 + args.length, command)];
  let group: { key: HookVariable; pieces: (Buffer | Part[])[] } | null = null;
  const closeGroup = (): void => {
    if (group !== null) ops.push(new Op(null, false, null, group.key, group.pieces));
    group = null;
  };
  const flushLits = (): void => {
    if (lits.length > 0) ops.push(new Op(Buffer.concat(lits), false, null));
    lits = [];
  };
  for (const a of args) {
    const compiled = compileArgument(a);
    if (compiled === 'payload') {
      closeGroup();
      flushLits();
      ops.push(new Op(null, true, null));
      continue;
    }
    const parts = compiled.map((p) => (typeof p !== 'string' && p.v === 'node' ? node : p));
    if (parts.every((p) => typeof p === 'string')) {
      const b = encodeBulk(parts.join(''));
      if (group !== null) group.pieces.push(b);
      else lits.push(b);
      continue;
    }
    const key = keyOf(parts);
    if (key === null) {
      closeGroup();
      flushLits();
      ops.push(new Op(null, false, parts));
    } else if (group !== null && group.key === key) {
      group.pieces.push(parts);
    } else {
      closeGroup();
      group = { key, pieces: [...lits, parts] };
      lits = [];
    }
  }
  closeGroup();
  flushLits();
  return ops;
}

export class Hooks {
  private readonly byEvent = new Map<RedisHookEvent, CompiledHook[]>();
  private readonly publish: CompiledHook[];
  /** Distinct connections of the publish hooks. */
  private readonly publishLinks: RedisLink[];
  /** Published messages whose hooks are not yet encoded (see firePublish). */
  private pending: Message[] = [];
  /** Per firing: made only if a template uses them. */
  private ts: string | undefined;
  private msgid: string | undefined;
  /** The event whose hook is being expanded, read by value(): fields, not an object per event. */
  private clientid: string | undefined;
  private username: string | undefined;
  private topic: string | undefined;
  private qos: number | undefined;
  private payload: Buffer | undefined;
  private message: Message | undefined;

  constructor(
    hooks: RedisHook[],
    links: (pool: string | null) => RedisLink,
    private readonly node: string,
    private readonly idOf: (msg: Message) => string,
    log?: Log,
  ) {
    for (const h of hooks) {
      const why = unfitForPipeline(h.command, h.args);
      if (why !== null) {
        log?.warning(`Warning: Ignoring redis_hook ${h.event} ${h.command}: ${why}.`);
        continue;
      }
      const list = this.byEvent.get(h.event) ?? [];
      list.push({ topic: h.topic, link: links(h.pool), command: h.command, ops: compileCommand(h.command, h.args, node) });
      this.byEvent.set(h.event, list);
    }
    this.publish = this.byEvent.get('message.publish') ?? [];
    this.publishLinks = [...new Set(this.publish.map((h) => h.link))];
    for (const l of this.publishLinks) l.addSource(this);
  }

  has(event: RedisHookEvent): boolean {
    return this.byEvent.has(event);
  }

  fire(event: RedisHookEvent, ctx: HookContext): void {
    const list = this.byEvent.get(event);
    if (list === undefined) return;
    this.run(list, ctx.clientid, ctx.username, ctx.topic, ctx.qos, ctx.payload, ctx.message);
  }

  /**
   * message.publish: the message is only noted here, on the message path; its commands
   * are encoded when the connection sends (RedisLink.addSource), after the message went
   * out to its subscribers, or before any other write to the same connection so that
   * the order of writes stays the order of events.
   */
  firePublish(msg: Message): void {
    if (this.pending.push(msg) === 1) {
      const links = this.publishLinks;
      for (let i = 0; i < links.length; i++) links[i].later();
    }
  }

  encodePending(): void {
    const p = this.pending;
    if (p.length === 0) return;
    this.pending = [];
    const list = this.publish;
    for (let i = 0; i < p.length; i++) {
      const m = p[i];
      this.run(list, m.from, m.fromUsername, m.topic, m.qos, m.payload, m);
    }
  }

  private run(
    list: CompiledHook[],
    clientid: string | undefined,
    username: string | undefined,
    topic: string | undefined,
    qos: number | undefined,
    payload: Buffer | undefined,
    message: Message | undefined,
  ): void {
    this.ts = undefined;
    this.msgid = undefined;
    for (let i = 0; i < list.length; i++) {
      const h = list[i];
      if (h.topic !== null && (topic === undefined || !topicMatches(h.topic, topic))) continue;
      const link = h.link;
      // begin() may first encode the deferred publish hooks (run() again): set the event
      // after it, and keep this event's ${ts} and ${msgid}, made or not.
      const ts: string | undefined = this.ts;
      const msgid: string | undefined = this.msgid;
      if (!link.begin()) continue;
      this.ts = ts;
      this.msgid = msgid;
      this.clientid = clientid;
      this.username = username;
      this.topic = topic;
      this.qos = qos;
      this.payload = payload;
      this.message = message;
      const out = link.out;
      const ops = h.ops;
      for (let j = 0; j < ops.length; j++) {
        const op = ops[j];
        if (op.raw !== null) out.raw(op.raw);
        else if (op.payload) out.bytes(payload ?? EMPTY);
        else if (op.key !== null) out.raw(op.encoded(this.value(op.key)));
        else {
          let s = '';
          for (const p of op.parts!) s += typeof p === 'string' ? p : this.value(p.v);
          out.str(s);
        }
      }
      link.end();
    }
    // The event's payload and message are not kept beyond it.
    this.payload = undefined;
    this.message = undefined;
  }

  /** A ${variable} of the event being expanded (see run()). */
  private value(v: HookVariable): string {
    switch (v) {
      case 'clientid': return this.clientid ?? '';
      case 'username': return this.username ?? '';
      case 'topic': return this.topic ?? '';
      case 'qos': return this.qos === undefined ? '' : String(this.qos);
      case 'payload': return this.payload?.toString() ?? '';
      case 'msgid': {
        const m = this.message;
        return (this.msgid ??= m !== undefined ? this.idOf(m) : '');
      }
      case 'node': return this.node;
      case 'ts': return (this.ts ??= String(Math.floor(Date.now() / 1000)));
    }
  }
}

const EMPTY = Buffer.alloc(0);
