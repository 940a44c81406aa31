/**
 * The shape of an option handler: it reads its words from the line and writes into the
 * parse state, or throws an OptionError carrying Mosquitto's message.
 */
import type { ParseState } from './state.js';
import type { LineTokens } from './values.js';

export type OptionHandler = (st: ParseState, t: LineTokens, name: string) => void;

export type OptionTable = Record<string, OptionHandler>;

/** The keys of `T` whose values are of type `V` (the fields a typed option helper may write). */
export type KeysOfType<T, V> = { [K in keyof T]: T[K] extends V ? K : never }[keyof T];
