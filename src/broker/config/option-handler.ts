/**
 * The shape of an option handler: it reads its words from the line and writes into the
 * parse state, or throws an OptionError carrying Mosquitto's message.
 */
import type { ParseState } from './state.js';
import type { LineTokens } from './values.js';

export type OptionHandler = (st: ParseState, t: LineTokens, name: string) => void;

export type OptionTable = Record<string, OptionHandler>;
