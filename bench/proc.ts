import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, closeSync } from 'node:fs';
import { ROOT } from '../test/support/process.js';

/**
 * A server under test as a child process, so its own CPU time and memory can be read from /proc
 * (Linux): utime + stime from /proc/<pid>/stat, VmRSS and VmHWM (peak RSS) from /proc/<pid>/status.
 */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the command name (which may contain spaces) start at field 3 (state)
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS;
}

/** Resident memory now and its peak so far, in MiB. */
export function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

export interface ServerChild {
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `node <script>` (compiled JavaScript, as in production) and waits until `readyPath` answers 200. */
export async function startChild(script: string, env: Record<string, string>, port: number, opts: { logFile: string; nodeArgs?: string[]; readyPath: string }): Promise<ServerChild> {
  const log = openSync(opts.logFile, 'w');
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), MANAGEMENT_PORT: '0', ...env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited early (${child.exitCode}); see ${opts.logFile}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}${opts.readyPath}`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} did not start; see ${opts.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: child.pid!,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
