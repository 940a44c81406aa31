/**
 * Topic names and filters: validation (MQTT-4.7) and matching.
 */

/** Maximum length of any UTF-8 string in MQTT (MQTT-1.5.3). */
export const MAX_TOPIC_BYTES = 65535;

/**
 * True if the string came out of a well-formed UTF-8 sequence without U+0000.
 * mqtt-packet decodes with Buffer.toString('utf8'), which turns every invalid sequence
 * into U+FFFD, so a replacement character is taken as proof of invalid UTF-8 on the wire
 * (MQTT-1.5.3-1). U+0000 is forbidden by MQTT-1.5.3-2.
 */
export function isValidMqttString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0xfffd) return false;
    // Lone surrogates cannot come from valid UTF-8 either.
    if (c >= 0xd800 && c <= 0xdbff) {
      const n = s.charCodeAt(i + 1);
      if (!(n >= 0xdc00 && n <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/** A topic name for PUBLISH: non-empty, no wildcards (MQTT-3.3.2-2), valid UTF-8, <= 65535 bytes. */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0) return false;
  if (topic.length > MAX_TOPIC_BYTES / 3 && Buffer.byteLength(topic) > MAX_TOPIC_BYTES) return false;
  if (topic.indexOf('+') !== -1 || topic.indexOf('#') !== -1) return false;
  return isValidMqttString(topic);
}

/**
 * A topic filter for SUBSCRIBE/UNSUBSCRIBE: non-empty (MQTT-4.7.3-1), '#' only as the
 * last level on its own (MQTT-4.7.1-2), '+' only as a whole level (MQTT-4.7.1-3).
 */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0) return false;
  if (filter.length > MAX_TOPIC_BYTES / 3 && Buffer.byteLength(filter) > MAX_TOPIC_BYTES) return false;
  const len = filter.length;
  for (let i = 0; i < len; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0x2b /* + */) {
      if ((i > 0 && filter.charCodeAt(i - 1) !== 0x2f) || (i < len - 1 && filter.charCodeAt(i + 1) !== 0x2f)) {
        return false;
      }
    } else if (c === 0x23 /* # */) {
      if (i !== len - 1 || (i > 0 && filter.charCodeAt(i - 1) !== 0x2f)) return false;
    }
  }
  return isValidMqttString(filter);
}

export function hasWildcard(filter: string): boolean {
  return filter.indexOf('+') !== -1 || filter.indexOf('#') !== -1;
}

/**
 * Does the filter match the topic name? Topics beginning with '$' are not matched by a
 * filter beginning with a wildcard (MQTT-4.7.2-1). '#' also matches the parent level
 * (MQTT-4.7.1-2: "sport/#" matches "sport").
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 /* $ */) {
    const f0 = filter.charCodeAt(0);
    if (f0 === 0x2b || f0 === 0x23) return false;
  }
  let fi = 0;
  let ti = 0;
  const flen = filter.length;
  const tlen = topic.length;
  while (fi < flen) {
    const fc = filter.charCodeAt(fi);
    if (fc === 0x23 /* # */) return true;
    if (fc === 0x2b /* + */) {
      // consume one level of the topic
      while (ti < tlen && topic.charCodeAt(ti) !== 0x2f) ti++;
      fi++;
    } else {
      if (ti >= tlen) {
        // topic ended: "a/#" matches "a"
        return filter.charCodeAt(fi) === 0x2f && filter.charCodeAt(fi + 1) === 0x23 && fi + 2 === flen;
      }
      if (fc !== topic.charCodeAt(ti)) return false;
      fi++;
      ti++;
    }
  }
  return ti === tlen;
}

/** Split a shared subscription `$share/group/filter` (MQTT 5, 4.8.2); null if not shared. */
export function parseSharedFilter(filter: string): { group: string; filter: string } | null {
  if (!filter.startsWith('$share/')) return null;
  const slash = filter.indexOf('/', 7);
  if (slash === -1) return { group: filter.slice(7), filter: '' };
  return { group: filter.slice(7, slash), filter: filter.slice(slash + 1) };
}
