/**
 * The parser's handlers for the options of the broker's option table (../option-table.ts):
 * each reads its value as the table says and stores it where BrokerConfig keeps it. The
 * security options are left to securityOptions (options-general.ts): where they go
 * depends on per_listener_settings.
 */
import { OPTION_KEYS, OPTION_TABLE, parseOptionValue, type OptionContext, type OptionSpec } from '../option-table.js';
import type { OptionTable } from './option-handler.js';
import type { ParseState } from './state.js';

function context(st: ParseState): OptionContext {
  return {
    warn: (text) => st.warn(text),
    note: (text) => st.note(text),
    emptyNonFatal: (name) => st.emptyNonFatal(name),
    isSet: (name) => st.isSet(st.config, name),
    markSet: (name) => void st.markSet(st.config, name),
  };
}

function tableOptions(): OptionTable {
  const table: OptionTable = {};
  for (const key of OPTION_KEYS) {
    const spec: OptionSpec = OPTION_TABLE[key];
    if (spec.name === null || spec.scope === 'security') continue;
    table[spec.name] = (st, t, name) => {
      const v = parseOptionValue(spec, t, name, context(st));
      if (v === undefined) return;
      const target = (spec.scope === 'log' ? st.config.log : st.config) as unknown as Record<string, unknown>;
      target[key] = v;
    };
  }
  return table;
}

export const optionTableOptions: OptionTable = tableOptions();
