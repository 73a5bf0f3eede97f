import { readFile } from 'node:fs/promises';

let bootId: string | undefined;

/**
 * A running process, named so that a reused pid does not pass for it: on Linux its pid, its start time (clock
 * ticks since boot, field 22 of /proc/<pid>/stat) and the boot's id; elsewhere the pid alone. Null when no such
 * process runs, counting a zombie (dead, only not yet reaped by its parent) as gone.
 */
export async function processIdentity(pid: number): Promise<string | null> {
  if (process.platform !== 'linux') return isAlive(pid) ? String(pid) : null;
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // the command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  bootId ??= (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  return `${pid} ${fields[19]} ${bootId}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
