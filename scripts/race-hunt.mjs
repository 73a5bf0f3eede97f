// Looks for races in the storage engine: runs the storage property tests against a copy of the built engine in
// which a random share of the statements that await, and of the file operations' completions, are followed by a
// pause of a few milliseconds. The engine's background work (a roll's index files and snapshot, rollbacks, journal
// rounds, compaction's swaps) then meets appends, passes, restarts and power losses in orders a fast disk rarely
// shows. Each test runs with its fixed seed plus each seed given, so a failure names a seed that finds those cases
// again (interleavings vary).
//
//   npm run hunt:races -- [--seeds 1,2,3] [--share 0.15] [--max-ms 15] [--tests model,power-loss]
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1,2,3' },
    share: { type: 'string', default: '0.15' },
    'max-ms': { type: 'string', default: '15' },
    tests: { type: 'string', default: 'model,compaction-model,compaction-transactions-model,power-loss,compaction-power-loss,catalogue-power-loss,transactions-power-loss' },
    'timeout-s': { type: 'string', default: '1200' },
  },
});
const root = resolve(import.meta.dirname, '..');
const pause = `await new Promise((r) => setTimeout(r, Math.random() < ${Number(values.share)} ? Math.random() * ${Number(values['max-ms'])} : 0));`;

/**
 * A pause after each statement that awaits, alone on its line: a slower operation, never a change of order
 * within the statement. Lines holding a function of their own (`=>`) are left alone, as the pause would land
 * in the enclosing one.
 */
function withPauses(source) {
  return source
    .split('\n')
    .flatMap((line) => {
      const code = line.trim();
      const awaits = code.includes('await ') && code.endsWith(';') && !code.startsWith('return') && !code.startsWith('//') && !code.includes('=>') && !code.includes('for await');
      return awaits ? [line, `${line.slice(0, line.length - line.trimStart().length)}${pause}`] : [line];
    })
    .join('\n');
}

const copy = await mkdtemp(join(tmpdir(), 'sluice-race-hunt-'));
try {
  await cp(join(root, 'dist'), join(copy, 'dist'), { recursive: true });
  await cp(join(root, 'package.json'), join(copy, 'package.json'));
  await symlink(join(root, 'node_modules'), join(copy, 'node_modules'));
  const engine = join(copy, 'dist', 'src', 'storage');
  for (const name of await readdir(engine)) {
    if (name.endsWith('.js')) await writeFile(join(engine, name), withPauses(await readFile(join(engine, name), 'utf8')));
  }
  // file operations finish late too: the engine's callback-driven paths (the append writer) have no await of their
  // own to pause after, and a slow completion is what a loaded disk gives them; the calls themselves keep their order
  const fileSystem = join(copy, 'dist', 'src', 'io', 'file-system.js');
  await writeFile(fileSystem, `${await readFile(fileSystem, 'utf8')}
for (const [name, call] of Object.entries(nodeFileSystem)) {
  nodeFileSystem[name] = async (...args) => {
    try {
      return await call(...args);
    } finally {
      ${pause}
    }
  };
}
`);
  let failed = 0;
  for (const seed of values.seeds.split(',').map(Number)) {
    for (const test of values.tests.split(',')) {
      const run = spawnSync(process.execPath, ['--test', join(copy, 'dist', 'test', 'storage', `${test}.test.js`)], {
        env: { ...process.env, SLUICE_TEST_SEED: String(seed) },
        encoding: 'utf8',
        timeout: Number(values['timeout-s']) * 1000,
        maxBuffer: 64 << 20,
      });
      const ok = run.status === 0;
      if (!ok) failed++;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${test} seed ${seed}${run.signal ? ` (stopped by ${run.signal}: a hang?)` : ''}`);
      if (!ok) console.log(run.stdout.split('\n').filter((l) => /Counterexample|error:|Error|expected|actual/.test(l)).slice(0, 12).join('\n'));
    }
  }
  process.exitCode = failed > 0 ? 1 : 0;
} finally {
  await rm(copy, { recursive: true, force: true });
}
