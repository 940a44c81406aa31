/**
 * bind_interface (mosquitto.conf(5)): Mosquitto binds a listener to a network interface
 * with SO_BINDTODEVICE. Node cannot, so the listener binds the interface's own address
 * instead, found with os.networkInterfaces() when the listener opens: the IPv4 address,
 * or the IPv6 one with `socket_domain ipv6` or when the interface has no IPv4 address.
 * Unlike SO_BINDTODEVICE, an address added to the interface later is not listened on.
 */
import os from 'node:os';

export class BindInterfaceError extends Error {
  /** Mosquitto's warning lines for an interface it cannot use. */
  readonly lines: string[];
  constructor(name: string, lines: string[]) {
    super(`Unable to bind to interface ${name}.`);
    this.lines = lines;
  }
}

/** The address to bind for `bind_interface name`; throws BindInterfaceError if there is none. */
export function interfaceAddress(name: string, family: 4 | 6 | undefined): string {
  const addrs = os.networkInterfaces()[name] ?? [];
  const v4 = addrs.find((a) => a.family === 'IPv4');
  // Link-local IPv6 addresses need a scope id to be bound; prefer a global one.
  const v6 = addrs.find((a) => a.family === 'IPv6' && a.scopeid === 0) ?? addrs.find((a) => a.family === 'IPv6');
  const pick = family === 6 ? v6 : family === 4 ? v4 : (v4 ?? v6);
  if (pick !== undefined) return pick.family === 'IPv6' && pick.scopeid !== undefined && pick.scopeid !== 0 ? `${pick.address}%${name}` : pick.address;
  const lines: string[] = [];
  if (family !== 6) lines.push(`Warning: Interface ${name} does not support IPv4 configuration.`);
  if (family !== 4) lines.push(`Warning: Interface ${name} does not support IPv6 configuration.`);
  throw new BindInterfaceError(name, lines);
}
