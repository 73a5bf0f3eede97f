import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`), feeding `input` on stdin. */
export function run(cmd: string, args: string[], options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Debian's interpreter: python3-confluent-kafka and python3-kafka install their modules for it, which may not
 * be the first python3 on PATH.
 */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** Runs a Python script with Debian's interpreter; the script reads its inputs from argv. */
export async function runPython(script: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
  const res = await run(DEBIAN_PYTHON, ['-c', script, ...args], { timeoutMs });
  if (res.code !== 0) throw new Error(`python exited ${res.code}:\n${res.stderr}`);
  return res;
}
