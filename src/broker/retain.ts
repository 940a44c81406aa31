/**
 * Retained messages in memory, in a tree by topic level so that a wildcard subscription
 * finds its retained messages by walking the matching branches, not by scanning all.
 * The RetainStore seam lets persistence and Redis keep a copy (see stores.ts).
 */
import type { RetainStore } from './core.js';
import type { Message } from './message.js';

interface RetainNode {
  children: Map<string, RetainNode> | undefined;
  message: Message | undefined;
}

export class RetainTree implements RetainStore {
  private readonly root: RetainNode = { children: undefined, message: undefined };
  count = 0;
  bytes = 0;

  /** Stores the message, or deletes the topic's retained message if the payload is empty (MQTT-3.3.1-10). */
  set(message: Message): void {
    const levels = message.topic.split('/');
    if (message.payload.length === 0) {
      this.delete(levels);
      return;
    }
    let node = this.root;
    for (const level of levels) {
      if (node.children === undefined) node.children = new Map();
      let child = node.children.get(level);
      if (child === undefined) {
        child = { children: undefined, message: undefined };
        node.children.set(level, child);
      }
      node = child;
    }
    if (node.message === undefined) this.count++;
    else this.bytes -= node.message.payload.length;
    this.bytes += message.payload.length;
    node.message = message;
  }

  get(topic: string): Message | undefined {
    let node: RetainNode | undefined = this.root;
    for (const level of topic.split('/')) {
      node = node.children?.get(level);
      if (node === undefined) return undefined;
    }
    return node.message;
  }

  deleteTopic(topic: string): void {
    this.delete(topic.split('/'));
  }

  private delete(levels: string[]): void {
    const path: RetainNode[] = [this.root];
    let node: RetainNode | undefined = this.root;
    for (const level of levels) {
      node = node.children?.get(level);
      if (node === undefined) return;
      path.push(node);
    }
    if (node.message === undefined) return;
    this.count--;
    this.bytes -= node.message.payload.length;
    node.message = undefined;
    for (let i = levels.length; i > 0; i--) {
      const n = path[i];
      if (n.message !== undefined || (n.children?.size ?? 0) > 0) break;
      path[i - 1].children!.delete(levels[i - 1]);
    }
  }

  /** Every retained message whose topic matches the filter, honouring the $-topic rule (MQTT-4.7.2-1). */
  match(filter: string, out: Message[] = []): Message[] {
    this.walk(this.root, filter.split('/'), 0, out);
    return out;
  }

  /** All retained messages (for persistence snapshots and $SYS counts). */
  all(out: Message[] = []): Message[] {
    this.collectAll(this.root, out);
    return out;
  }

  private walk(node: RetainNode, levels: string[], depth: number, out: Message[]): void {
    if (depth === levels.length) {
      if (node.message !== undefined) out.push(node.message);
      return;
    }
    const level = levels[depth];
    const children = node.children;
    if (level === '#') {
      // '#' matches the parent level too ("a/#" matches "a").
      if (depth > 0 && node.message !== undefined) out.push(node.message);
      if (children !== undefined) {
        for (const [name, child] of children) {
          if (depth === 0 && name.charCodeAt(0) === 0x24) continue;
          this.collectAll(child, out);
        }
      }
      return;
    }
    if (children === undefined) return;
    if (level === '+') {
      for (const [name, child] of children) {
        if (depth === 0 && name.charCodeAt(0) === 0x24) continue;
        this.walk(child, levels, depth + 1, out);
      }
      return;
    }
    const child = children.get(level);
    if (child !== undefined) this.walk(child, levels, depth + 1, out);
  }

  private collectAll(node: RetainNode, out: Message[]): void {
    if (node.message !== undefined) out.push(node.message);
    if (node.children !== undefined) {
      for (const child of node.children.values()) this.collectAll(child, out);
    }
  }

  /**
   * The levels directly below `topic` ('' for the root), for the dashboard's topic browser:
   * each level's name, its retained message if any, and whether deeper levels exist.
   */
  children(topic: string, limit: number): { name: string; message: Message | undefined; hasChildren: boolean }[] {
    let node: RetainNode | undefined = this.root;
    if (topic !== '') {
      for (const level of topic.split('/')) {
        node = node.children?.get(level);
        if (node === undefined) return [];
      }
    }
    const out: { name: string; message: Message | undefined; hasChildren: boolean }[] = [];
    if (node.children === undefined) return out;
    for (const [name, child] of node.children) {
      if (out.length >= limit) break;
      out.push({ name, message: child.message, hasChildren: (child.children?.size ?? 0) > 0 });
    }
    return out;
  }

  clear(): void {
    this.root.children = undefined;
    this.count = 0;
    this.bytes = 0;
  }
}
