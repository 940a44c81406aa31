// Where the fleet's connections come from (issue 17): each its own loopback source address
// in 127.0.0.0/8 (Linux routes the whole /8 to lo), so that 100,000 connections to one
// broker port never run out of ephemeral ports (about 28,000 per source address).

/** Source address of connection `i`: 127.1.0.1 upwards, 127 hosts per third-octet step. */
export function sourceAddress(i: number): string {
  return `127.${1 + ((i >> 14) & 127)}.${(i >> 7) & 127}.${1 + (i & 127)}`;
}
