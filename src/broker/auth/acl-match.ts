/**
 * Matching for ACL rules beyond topicMatches(): patterns matched with %c/%u filled in
 * place (for the message path), keeping MQTT's rules: '#' covers the parent level, '+'
 * one level, and a filter that starts with a wildcard matches no '$' topic (MQTT-4.7.2-1).
 */

/** A pattern's text split at its %c and %u: 0 stands for the client id, 1 for the username. */
export type PatternParts = readonly (string | 0 | 1)[];

export function splitPattern(filter: string): PatternParts {
  const parts: (string | 0 | 1)[] = [];
  let from = 0;
  for (let i = 0; i < filter.length - 1; i++) {
    if (filter.charCodeAt(i) !== 0x25 /* % */) continue;
    const k = filter[i + 1];
    if (k !== 'c' && k !== 'u') continue;
    if (i > from) parts.push(filter.slice(from, i));
    parts.push(k === 'c' ? 0 : 1);
    from = i + 2;
    i++;
  }
  if (from < filter.length) parts.push(filter.slice(from));
  return parts;
}

function partText(parts: PatternParts, i: number, clientId: string, username: string): string {
  const p = parts[i];
  return p === 0 ? clientId : p === 1 ? username : p;
}

/**
 * Does the pattern, with %c and %u filled in, match the topic? The same rules as
 * topicMatches() (protocol/topic.ts), walking the parts in place so that the message
 * path builds no strings. The names carry no '+' or '#' (checked by the caller), so
 * only the pattern's own text can hold wildcards.
 */
export function filledMatches(parts: PatternParts, clientId: string, username: string, topic: string): boolean {
  const n = parts.length;
  const tlen = topic.length;
  let pi = 0;
  let s = n > 0 ? partText(parts, 0, clientId, username) : '';
  let si = 0;
  let ti = 0;
  let first = true;
  for (;;) {
    while (si >= s.length && pi + 1 < n) {
      s = partText(parts, ++pi, clientId, username);
      si = 0;
    }
    if (si >= s.length) return ti === tlen;
    const fc = s.charCodeAt(si);
    if (first) {
      first = false;
      // MQTT-4.7.2-1: a leading wildcard does not match a '$' topic.
      if (topic.charCodeAt(0) === 0x24 && (fc === 0x2b || fc === 0x23)) return false;
    }
    if (fc === 0x23 /* # */) return true;
    if (fc === 0x2b /* + */) {
      while (ti < tlen && topic.charCodeAt(ti) !== 0x2f) ti++;
      si++;
      continue;
    }
    if (ti >= tlen) {
      // The topic ended: only "/#" may be left of the filter ("a/#" matches "a").
      if (fc !== 0x2f) return false;
      si++;
      while (si >= s.length && pi + 1 < n) {
        s = partText(parts, ++pi, clientId, username);
        si = 0;
      }
      if (si >= s.length || s.charCodeAt(si) !== 0x23) return false;
      si++;
      while (si >= s.length && pi + 1 < n) {
        s = partText(parts, ++pi, clientId, username);
        si = 0;
      }
      return si >= s.length;
    }
    if (fc !== topic.charCodeAt(ti)) return false;
    si++;
    ti++;
  }
}
