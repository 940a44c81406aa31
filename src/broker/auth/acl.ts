/**
 * acl_file: an Authorizer over a Mosquitto ACL file.
 *
 *   topic [read|write|readwrite|deny] <filter>     (no access word: readwrite)
 *   user <name>                                    (following topic lines are this user's)
 *   pattern [read|write|readwrite|deny] <filter>   (everyone; %c = client id, %u = username)
 *
 * topic lines before the first user line apply to clients without a username. The rules,
 * as mosquitto 2.0.11 applies them (checked against the real broker):
 *  1. the client's own topic rules (its user block, or the anonymous ones): a matching
 *     deny refuses; otherwise a matching rule with the access allows;
 *  2. then the patterns, the same way (deny first), with %c/%u filled in. A client id or
 *     username containing '+' or '#' gets no pattern at all, so it can never widen one;
 *     a pattern with %u never applies to a client without a username;
 *  3. nothing matched: refused.
 * Matching is MQTT's: '#' covers the parent level, and a filter starting with a wildcard
 * never matches a '$' topic (MQTT-4.7.2-1), so `topic read #` does not open $SYS.
 *
 * Subscribing: as Mosquitto 2.0.11 (issue 14, which supersedes issue 4's refusals), an ACL
 * file grants every SUBSCRIBE, and delivery checks canRead per message, so a filter wider
 * than what the client may read (or one it may read nothing of) never leaks a topic.
 */
import { readFileSync } from 'node:fs';
import { isValidTopicFilter, topicMatches } from '../../protocol/topic.js';
import { filledMatches, type PatternParts, splitPattern } from './acl-match.js';
import { type AuthLog, type Authorizer, SecurityFileError } from './types.js';

export const ACL_READ = 1;
export const ACL_WRITE = 2;
/** A deny rule: access 0, checked before the allows. */
export const ACL_DENY = 0;

const ACCESS: Record<string, number> = { read: ACL_READ, write: ACL_WRITE, readwrite: ACL_READ | ACL_WRITE, deny: ACL_DENY };

export interface AclRule {
  access: number;
  filter: string;
}

/** Rules compiled for fast lookups: filters without wildcards go into sets. */
class RuleSet {
  readonly rules: AclRule[] = [];
  private readonly denyExact = new Set<string>();
  private readonly denyWild: string[] = [];
  private readonly exact: [Set<string>, Set<string>] = [new Set(), new Set()];
  private readonly wild: [string[], string[]] = [[], []];

  add(rule: AclRule): void {
    this.rules.push(rule);
    const w = rule.filter.includes('+') || rule.filter.includes('#');
    if (rule.access === ACL_DENY) {
      if (w) this.denyWild.push(rule.filter);
      else this.denyExact.add(rule.filter);
      return;
    }
    for (const bit of [ACL_READ, ACL_WRITE]) {
      if ((rule.access & bit) === 0) continue;
      const i = bit === ACL_READ ? 0 : 1;
      if (w) this.wild[i].push(rule.filter);
      else this.exact[i].add(rule.filter);
    }
  }

  /** -1 denied, 1 allowed, 0 no rule says. */
  check(topic: string, bit: number): number {
    if (this.denyExact.has(topic)) return -1;
    const dw = this.denyWild;
    for (let i = 0; i < dw.length; i++) if (topicMatches(dw[i], topic)) return -1;
    const k = bit === ACL_READ ? 0 : 1;
    if (this.exact[k].has(topic)) return 1;
    const ww = this.wild[k];
    for (let i = 0; i < ww.length; i++) if (topicMatches(ww[i], topic)) return 1;
    return 0;
  }

}

export interface ParsedAcl {
  anonymous: AclRule[];
  users: Map<string, AclRule[]>;
  patterns: AclRule[];
  warnings: string[];
}

/** Parse ACL text; throws SecurityFileError with Mosquitto's lines (exit 3) on the first bad line. */
export function parseAclFile(text: string, path: string): ParsedAcl {
  const acl: ParsedAcl = { anonymous: [], users: new Map(), patterns: [], warnings: [] };
  let current: AclRule[] = acl.anonymous;
  const fail = (line: string): never => {
    throw new SecurityFileError([line, `Error opening acl file "${path}".`], 3);
  };
  for (const rawLine of text.split('\n')) {
    // Mosquitto strips the line end and trailing blanks; we also allow leading blanks.
    const line = rawLine.replace(/[\s]+$/, '').replace(/^[ \t]+/, '');
    if (line.length === 0 || line.charCodeAt(0) === 0x23 /* # */) continue;
    const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
    const keyword = m?.[1] ?? line;
    const rest = m?.[2] ?? '';
    if (keyword === 'topic' || keyword === 'pattern') {
      if (rest.length === 0) fail(`Error: Empty topic in acl_file "${path}".`);
      const r = /^(\S+)(?:[ \t]+(.*))?$/.exec(rest);
      let access = ACL_READ | ACL_WRITE;
      let filter = rest;
      if (r !== null && r[2] !== undefined) {
        const a = ACCESS[r[1]];
        if (a === undefined) fail(`Error: Invalid topic access type "${r[1]}" in acl_file "${path}".`);
        access = a;
        filter = r[2];
      }
      if (!isValidTopicFilter(filter)) fail(`Error: Invalid ACL topic "${filter}" in acl_file "${path}".`);
      if (keyword === 'topic') {
        current.push({ access, filter });
      } else {
        if (!filter.includes('%c') && !filter.includes('%u')) {
          acl.warnings.push(`Warning: ACL pattern '${filter}' does not contain '%c' or '%u'.`);
        }
        acl.patterns.push({ access, filter });
      }
    } else if (keyword === 'user') {
      if (rest.length === 0) fail(`Error: Missing username in acl_file "${path}".`);
      let list = acl.users.get(rest);
      if (list === undefined) {
        list = [];
        acl.users.set(rest, list);
      }
      current = list;
    } else {
      fail(`Error: Invalid line in acl_file "${path}": ${keyword}.`);
    }
  }
  return acl;
}

export function readAclFile(path: string): ParsedAcl {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new SecurityFileError([`Error: Unable to open acl_file "${path}".`, `Error opening acl file "${path}".`], 13);
  }
  return parseAclFile(text, path);
}

function hasWildcardChar(s: string): boolean {
  return s.indexOf('+') !== -1 || s.indexOf('#') !== -1;
}

/**
 * A pattern ready for the message path. `prefix` is the literal text before the level
 * holding the first %c/%u or wildcard: a topic that does not start with it cannot match,
 * so most patterns are dismissed at once.
 */
interface CompiledPattern {
  access: number;
  parts: PatternParts;
  prefix: string;
  usesU: boolean;
}

function compilePattern(rule: AclRule): CompiledPattern {
  const f = rule.filter;
  let first = f.length;
  for (const ch of ['%c', '%u', '+', '#']) {
    const i = f.indexOf(ch);
    if (i !== -1 && i < first) first = i;
  }
  const slash = f.lastIndexOf('/', first - 1);
  const prefix = first === f.length ? f : slash === -1 ? '' : f.slice(0, slash);
  return { access: rule.access, parts: splitPattern(f), prefix, usesU: f.includes('%u') };
}

/** The compiled rules of one ACL file: immutable, replaced whole on reload. */
export class AclRules {
  private readonly anonymous = new RuleSet();
  private readonly users = new Map<string, RuleSet>();
  private readonly patterns: AclRule[];
  private readonly denyPatterns: CompiledPattern[] = [];
  private readonly allowPatterns: [CompiledPattern[], CompiledPattern[]] = [[], []];

  constructor(parsed: ParsedAcl) {
    for (const r of parsed.anonymous) this.anonymous.add(r);
    for (const [name, rules] of parsed.users) {
      const set = new RuleSet();
      for (const r of rules) set.add(r);
      this.users.set(name, set);
    }
    this.patterns = parsed.patterns;
    for (const r of parsed.patterns) {
      const c = compilePattern(r);
      if (r.access === ACL_DENY) this.denyPatterns.push(c);
      if ((r.access & ACL_READ) !== 0) this.allowPatterns[0].push(c);
      if ((r.access & ACL_WRITE) !== 0) this.allowPatterns[1].push(c);
    }
  }

  private own(username: string | undefined): RuleSet | undefined {
    return username === undefined ? this.anonymous : this.users.get(username);
  }

  /**
   * A '+' or '#' in either name would turn a pattern into a wider filter: Mosquitto refuses
   * every pattern for such a client, and so do we.
   */
  private static patternsBarred(clientId: string, username: string | undefined): boolean {
    return hasWildcardChar(clientId) || (username !== undefined && hasWildcardChar(username));
  }

  /** -1 denied, 1 allowed, 0 no pattern says. */
  private patternCheck(clientId: string, username: string | undefined, topic: string, bit: number): number {
    const deny = this.denyPatterns;
    for (let i = 0; i < deny.length; i++) {
      const p = deny[i];
      if (username === undefined && p.usesU) continue;
      if (!topic.startsWith(p.prefix)) continue;
      if (filledMatches(p.parts, clientId, username ?? '', topic)) return -1;
    }
    const allow = this.allowPatterns[bit === ACL_READ ? 0 : 1];
    for (let i = 0; i < allow.length; i++) {
      const p = allow[i];
      if (username === undefined && p.usesU) continue;
      if (!topic.startsWith(p.prefix)) continue;
      if (filledMatches(p.parts, clientId, username ?? '', topic)) return 1;
    }
    return 0;
  }

  check(clientId: string, username: string | undefined, topic: string, bit: number): boolean {
    const own = this.own(username);
    if (own !== undefined) {
      const v = own.check(topic, bit);
      if (v !== 0) return v > 0;
    }
    if (this.patterns.length === 0 || AclRules.patternsBarred(clientId, username)) return false;
    return this.patternCheck(clientId, username, topic, bit) > 0;
  }
}

export interface AclFileOptions {
  log?: AuthLog;
}

export class AclFileAuthorizer implements Authorizer {
  readonly path: string;
  private rules: AclRules;
  private readonly log: AuthLog | undefined;

  constructor(path: string, rules: AclRules, options: AclFileOptions = {}) {
    this.path = path;
    this.rules = rules;
    this.log = options.log;
  }

  /** Load at start-up; throws SecurityFileError (log its lines, exit with its exitCode). */
  static load(path: string, options: AclFileOptions = {}): AclFileAuthorizer {
    const parsed = readAclFile(path);
    for (const w of parsed.warnings) options.log?.warning(w);
    return new AclFileAuthorizer(path, new AclRules(parsed), options);
  }

  /**
   * SIGHUP: read the file again. A file that cannot be read or parsed leaves the old rules
   * in force and the reason is logged (Mosquitto would run with no ACL at all). Connected
   * clients are judged by the new rules from their next message on, as in Mosquitto.
   */
  reload(): boolean {
    let parsed: ParsedAcl;
    try {
      parsed = readAclFile(this.path);
    } catch (err) {
      const lines = err instanceof SecurityFileError ? err.lines : [`Error opening acl file "${this.path}".`];
      for (const l of lines) this.log?.error(l);
      this.log?.error(`Error: Keeping the previous acl_file "${this.path}" in force.`);
      return false;
    }
    for (const w of parsed.warnings) this.log?.warning(w);
    this.rules = new AclRules(parsed);
    return true;
  }

  canRead(clientId: string, username: string | undefined, topic: string): boolean {
    return this.rules.check(clientId, username, topic, ACL_READ);
  }

  canWrite(clientId: string, username: string | undefined, topic: string): boolean {
    return this.rules.check(clientId, username, topic, ACL_WRITE);
  }

  /** Every SUBSCRIBE is granted, as Mosquitto's ACL file does; delivery filters (canRead). */
  canSubscribe(): boolean {
    return true;
  }
}
