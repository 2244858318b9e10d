import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * NIST SP 800-63B rev 4 §3.1.1.2: a new password is compared with a list of commonly used or
 * compromised values (and never against composition rules). The list ships with stepup
 * (common-passwords.txt beside this file: the 10,000 most common passwords of 8 or more characters,
 * from @zxcvbn-ts/language-common), so no network call is made. Compared case-insensitively.
 */
let list: Set<string> | undefined;

function load(): Set<string> {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'common-passwords.txt');
  const words = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.toLowerCase());
  return new Set(words);
}

export function isCommonPassword(password: string): boolean {
  list ??= load();
  return list.has(password.toLowerCase());
}
