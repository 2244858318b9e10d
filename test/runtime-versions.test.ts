import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from './support/process.js';

/** Issue #15: package.json, the Dockerfile and the README name the Node versions oidc-provider supports. */
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe('supported Node versions', () => {
  it('oidc-provider still asks for Node 22 LTS (Jod) or a later LTS', () => {
    // lib/index.js warns "Unsupported runtime" below this LTS code name
    expect(read('node_modules/oidc-provider/lib/index.js')).toContain("const minimal = 'Jod';");
  });

  it('engines, the Docker base image and the README agree with it', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(engines).toBe('^22.11.0 || ^24.11.0 || >=26'); // 22.11.0: the first Jod LTS; 24.11.0: the first Krypton LTS
    const images = [...read('Dockerfile').matchAll(/^FROM node:(\d+)-/gm)].map((m) => Number(m[1]));
    expect(images.length).toBeGreaterThan(0);
    for (const major of images) expect([22, 24]).toContain(major);
    expect(read('README.md')).toContain('Node.js 22 LTS (22.11 or later) or 24 LTS, or a later LTS release');
  });
});
