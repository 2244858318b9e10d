import { spawn } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from './support/process.js';

/** Issue #6: log lines are written in batches; none may be lost when the process exits. */
function run(count: number, how: 'exit' | 'drain'): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/log-lines.ts', String(count), how], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.split('\n').filter((l) => l.startsWith('{'))) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

describe('batched JSON logs', () => {
  it('every line reaches stdout when the process calls process.exit right after logging, in order and redacted', async () => {
    const lines = (await run(300, 'exit')).map((l) => JSON.parse(l) as { i: number; password: string; msg: string });
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(lines.every((l) => l.password === '[redacted]' && l.msg === 'line')).toBe(true);
  });

  it('a process that ends by itself writes its last lines and is not kept alive by the flush timer', async () => {
    expect(await run(3, 'drain')).toHaveLength(3);
  });
});
