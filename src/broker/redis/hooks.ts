/**
 * Command hooks (issue 7): `redis_hook EVENT [topic=FILTER] [pool=NAME] COMMAND ARG...`
 * runs a Redis command on a broker event. Arguments may hold ${clientid}, ${username},
 * ${topic}, ${qos}, ${payload}, ${msgid}, ${node} and ${ts}; each argument is expanded on
 * its own and stays ONE Redis argument whatever it contains, so a payload with spaces or
 * newlines cannot inject a command. An argument that is exactly ${payload} is passed as
 * the payload's bytes (binary-safe).
 *
 * Templates are compiled once; firing a hook is a few string joins and one buffered
 * write, never a wait.
 */
import { topicMatches } from '../../protocol/index.js';
import type { RedisHook, RedisHookEvent } from '../config/types.js';
import type { Message } from '../message.js';
import type { RedisCommand, RedisLink } from './connection.js';

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

interface CompiledHook {
  topic: string | null;
  link: RedisLink;
  command: string;
  /** Per argument: its parts, or 'payload' for an argument that is exactly ${payload}. */
  args: (Part[] | 'payload')[];
}

const KNOWN = new Set<string>(HOOK_VARIABLES);

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

export class Hooks {
  private readonly byEvent = new Map<RedisHookEvent, CompiledHook[]>();

  constructor(
    hooks: RedisHook[],
    links: (pool: string | null) => RedisLink,
    private readonly node: string,
    private readonly idOf: (msg: Message) => string,
  ) {
    for (const h of hooks) {
      const list = this.byEvent.get(h.event) ?? [];
      list.push({ topic: h.topic, link: links(h.pool), command: h.command, args: h.args.map(compileArgument) });
      this.byEvent.set(h.event, list);
    }
  }

  has(event: RedisHookEvent): boolean {
    return this.byEvent.has(event);
  }

  fire(event: RedisHookEvent, ctx: HookContext): void {
    const list = this.byEvent.get(event);
    if (list === undefined) return;
    let ts: string | undefined;
    let msgid: string | undefined;
    for (let i = 0; i < list.length; i++) {
      const h = list[i];
      if (h.topic !== null && (ctx.topic === undefined || !topicMatches(h.topic, ctx.topic))) continue;
      const cmd: RedisCommand = [h.command];
      for (const a of h.args) {
        if (a === 'payload') {
          cmd.push(ctx.payload ?? '');
          continue;
        }
        let s = '';
        for (const p of a) {
          if (typeof p === 'string') {
            s += p;
            continue;
          }
          switch (p.v) {
            case 'clientid': s += ctx.clientid ?? ''; break;
            case 'username': s += ctx.username ?? ''; break;
            case 'topic': s += ctx.topic ?? ''; break;
            case 'qos': s += ctx.qos ?? ''; break;
            case 'payload': s += ctx.payload?.toString() ?? ''; break;
            case 'msgid': s += (msgid ??= ctx.message !== undefined ? this.idOf(ctx.message) : ''); break;
            case 'node': s += this.node; break;
            case 'ts': s += (ts ??= String(Math.floor(Date.now() / 1000))); break;
          }
        }
        cmd.push(s);
      }
      h.link.send(cmd);
    }
  }
}
