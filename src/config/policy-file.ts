import { readFileSync } from 'node:fs';
import { ConfigError } from './env.js';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../stepup/index.js';

/** POLICY_FILE (SPEC §1, §6): a JSON file overriding the default levels; a bad file stops the start with the reason. */
export function loadPolicy(file: string | undefined): Policy {
  if (!file) return DEFAULT_POLICY;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`POLICY_FILE ${file}: ${(err as Error).message}`);
  }
  try {
    return parsePolicy(json);
  } catch (err) {
    throw new ConfigError(`POLICY_FILE ${file}: ${(err as Error).message}`);
  }
}
