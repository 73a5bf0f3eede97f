import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * The shell that runs the syncs: one path per line in, one answer per line out, in order. `sync -f` is coreutils'
 * syncfs(2), and its exit status carries writeback errors the filesystem recorded (Linux 5.8 and later).
 */
const SYNC_LOOP = `
while IFS= read -r path; do
  if ! command -v sync >/dev/null 2>&1; then echo unavailable
  elif out=$(sync -f -- "$path" 2>&1); then echo ok
  else printf 'failed %s\\n' "$(printf '%s' "$out" | tr '\\n' ' ')"
  fi
done`;

interface Waiting {
  resolve: (synced: boolean) => void;
  reject: (err: Error) => void;
}

/**
 * syncfs(2) for Node, which has no binding for it: `sync -f` run by a long-lived shell of ours instead of a process
 * spawned from this one at every call. A spawn forks this process, and after a fork every page it writes takes a
 * copy-on-write fault: with a few hundred MB of heap and rings, one spawn a second (the background flush of
 * thousands of `none` partitions) had the event loop spend about a third of its time in page faults.
 * The shell is started by prepare() or the first call (that one fork is paid once) and again after it dies. A fork
 * blocks the event loop for as long as copying this process's page tables takes: 5–12 ms at 44 MB resident, 63 ms
 * at 1 GB, so the earlier the better.
 */
export class FileSystemSyncer {
  private child: ChildProcess | null = null;
  private readonly waiting: Waiting[] = [];
  private received = '';

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** The shell's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the shell now, while this process is small, if syncfs may be had here and it is not running. */
  prepare(): void {
    if (process.platform === 'linux' && !this.child) this.start();
  }

  /**
   * Flushes every dirty file of the filesystem holding `path`. Resolves false when syncfs cannot be had (not Linux,
   * no `sync` or shell, the shell died before answering): the caller then syncs file by file. Rejects with an EIO
   * error when the sync reports a writeback error.
   */
  sync(path: string): Promise<boolean> {
    if (process.platform !== 'linux' || path.includes('\n')) return Promise.resolve(false);
    const child = this.child ?? this.start();
    if (!child) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (this.waiting.length === 1) this.setReferenced(child, true);
      child.stdin!.write(`${path}\n`);
    });
  }

  private start(): ChildProcess | null {
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', SYNC_LOOP], { env: this.env, stdio: ['pipe', 'pipe', 'ignore'] });
    } catch {
      return null;
    }
    this.child = child;
    this.received = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => this.onAnswers(text));
    // an error on its pipes (EPIPE once it is gone) ends it the same way as its exit
    child.stdin!.on('error', () => this.ended(child));
    child.on('error', () => this.ended(child));
    child.on('exit', () => this.ended(child));
    this.setReferenced(child, false);
    return child;
  }

  private onAnswers(text: string): void {
    this.received += text;
    for (let end = this.received.indexOf('\n'); end >= 0; end = this.received.indexOf('\n')) {
      const answer = this.received.slice(0, end);
      this.received = this.received.slice(end + 1);
      const w = this.waiting.shift();
      if (!w) continue;
      if (answer === 'ok') w.resolve(true);
      else if (answer.startsWith('failed ')) w.reject(Object.assign(new Error(`syncfs failed: ${answer.slice(7).trim()}`), { code: 'EIO' }));
      else w.resolve(false);
    }
    if (this.waiting.length === 0 && this.child) this.setReferenced(this.child, false);
  }

  /** The shell is gone: what it had not answered falls back to syncing file by file; the next call starts another. */
  private ended(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = null;
    for (const w of this.waiting.splice(0)) w.resolve(false);
    child.kill('SIGKILL');
  }

  /** The shell keeps the process alive only while a sync waits for it. */
  private setReferenced(child: ChildProcess, referenced: boolean): void {
    for (const handle of [child, child.stdin as Socket | null, child.stdout as Socket | null]) {
      if (referenced) handle?.ref();
      else handle?.unref();
    }
  }
}
