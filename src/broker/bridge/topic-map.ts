/**
 * Topic remapping of bridge topics (mosquitto.conf(5), `topic pattern [[[ out | in | both ]
 * qos-level] local-prefix remote-prefix]`): on the way out the local prefix is taken off
 * and the remote prefix put on; on the way in the reverse. With pattern "" and both
 * prefixes, one local topic maps to one remote topic.
 *
 * As Mosquitto, only topics that have a prefix take part in remapping, and the first of
 * them (in configuration order) whose filter matches the message decides; a message that
 * no prefixed topic matches keeps its topic.
 */
import { topicMatches } from '../../protocol/index.js';
import type { BridgeTopic } from '../config/types.js';

function sends(t: BridgeTopic): boolean {
  return t.direction === 'out' || t.direction === 'both';
}

function receives(t: BridgeTopic): boolean {
  return t.direction === 'in' || t.direction === 'both';
}

function remapped(t: BridgeTopic): boolean {
  return t.localPrefix !== null || t.remotePrefix !== null;
}

function swapPrefix(topic: string, from: string | null, to: string | null): string {
  let rest = topic;
  if (from !== null && rest.startsWith(from)) rest = rest.slice(from.length);
  return to !== null ? to + rest : rest;
}

/** The topics of a bridge that need remapping, split by direction, in configuration order. */
export interface TopicMap {
  out: BridgeTopic[];
  in: BridgeTopic[];
}

export function topicMap(topics: BridgeTopic[]): TopicMap {
  return {
    out: topics.filter((t) => sends(t) && remapped(t)),
    in: topics.filter((t) => receives(t) && remapped(t)),
  };
}

/** The remote topic for a local message going out. */
export function toRemote(map: TopicMap, localTopic: string): string {
  for (const t of map.out) {
    if (topicMatches(t.localTopic, localTopic)) return swapPrefix(localTopic, t.localPrefix, t.remotePrefix);
  }
  return localTopic;
}

/** The local topic for a message that came in from the remote broker. */
export function toLocal(map: TopicMap, remoteTopic: string): string {
  for (const t of map.in) {
    if (topicMatches(t.remoteTopic, remoteTopic)) return swapPrefix(remoteTopic, t.remotePrefix, t.localPrefix);
  }
  return remoteTopic;
}

/** Filters subscribed on the remote broker (in, both), with their QoS. */
export function remoteSubscriptions(topics: BridgeTopic[]): { topic: string; qos: 0 | 1 | 2 }[] {
  return topics.filter(receives).map((t) => ({ topic: t.remoteTopic, qos: t.qos }));
}

/** Filters unsubscribed on the remote broker (out only) when bridge_attempt_unsubscribe is true. */
export function remoteUnsubscriptions(topics: BridgeTopic[]): string[] {
  return topics.filter((t) => t.direction === 'out').map((t) => t.remoteTopic);
}

/** Filters watched on the local broker (out, both), with their QoS. */
export function localSubscriptions(topics: BridgeTopic[]): { topic: string; qos: 0 | 1 | 2 }[] {
  return topics.filter(sends).map((t) => ({ topic: t.localTopic, qos: t.qos }));
}
