/**
 * Child processes that never outlive the harness. Each server runs in its own process group (so a
 * terminal's Ctrl-C reaches only the Node process, which tears down in order) and is killed:
 * - by `stop()` (SIGTERM to the group, SIGKILL after a grace period);
 * - on any exit of this Node process, crash included (synchronous SIGKILL of every group);
 * - by a tiny `sh` watchdog per child when this Node process is SIGKILLed (polls the owner pid);
 * - by `reapStale()` at the next start, from the state file a killed run left behind in
 *   $TMPDIR/chartorigin-harness/ (pids checked against their executable, so a reused pid is never hit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const STATE_DIR = join(tmpdir(), 'chartorigin-harness');

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** stdout and stderr of the process, appended. */
  readonly logFile: string;
  readonly exited: Promise<ExitInfo>;
  running(): boolean;
  /** The last `bytes` of the log, for error messages. */
  logTail(bytes?: number): string;
  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

interface Tracked {
  proc: ManagedProcess;
  exe: string;
  watchdog: ChildProcess | undefined;
}

interface StateFile {
  ownerPid: number;
  ownerStart: string;
  processes: { pid: number; exe: string }[];
  dirs: string[];
}

const live = new Map<number, Tracked>();
const ownedDirs = new Set<string>();
let exitHookInstalled = false;

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): tells a live owner from a reused pid. */
function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function procExe(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return undefined;
  }
}

function stateFile(): string {
  return join(STATE_DIR, `${process.pid}.json`);
}

function saveState(): void {
  if (live.size === 0 && ownedDirs.size === 0) {
    rmSync(stateFile(), { force: true });
    return;
  }
  const state: StateFile = {
    ownerPid: process.pid,
    ownerStart: procStart(process.pid) ?? '',
    processes: [...live.entries()].map(([pid, t]) => ({ pid, exe: t.exe })),
    dirs: [...ownedDirs],
  };
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(stateFile(), JSON.stringify(state));
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // group already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: no waiting, just SIGKILL and delete.
  process.on('exit', () => {
    for (const [pid, t] of live) {
      killGroup(pid, 'SIGKILL');
      if (t.watchdog?.pid) killGroup(t.watchdog.pid, 'SIGKILL');
    }
    live.clear();
    for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
    ownedDirs.clear();
    rmSync(stateFile(), { force: true });
  });
}

/** A directory removed on teardown, at exit, or by the next run's reaper if this one was killed. */
export function ownDir(dir: string): string {
  installExitHook();
  ownedDirs.add(dir);
  saveState();
  return dir;
}

export function releaseDir(dir: string, remove = true): void {
  if (remove) rmSync(dir, { recursive: true, force: true });
  ownedDirs.delete(dir);
  saveState();
}

const WATCHDOG = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -TERM -"$2" 2>/dev/null; sleep 2; kill -KILL -"$2" 2>/dev/null; exit 0';

export interface StartOptions {
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  logFile: string;
}

export function startProcess(name: string, exe: string, args: readonly string[], options: StartOptions): ManagedProcess {
  installExitHook();
  const fd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(exe, args, { detached: true, stdio: ['ignore', fd, fd], env: options.env ?? process.env, cwd: options.cwd });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not start ${exe}`);
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: -1, signal: null }));
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const watchdog = spawn('sh', ['-c', WATCHDOG, 'chartorigin-watchdog', String(process.pid), String(pid)], { detached: true, stdio: 'ignore' });
  watchdog.on('error', () => undefined);
  watchdog.unref();

  const logTail = (bytes = 4000): string => {
    try {
      const size = statSync(options.logFile).size;
      const len = Math.min(bytes, size);
      const buf = Buffer.alloc(len);
      const rfd = openSync(options.logFile, 'r');
      try {
        readSync(rfd, buf, 0, len, size - len);
      } finally {
        closeSync(rfd);
      }
      return buf.toString('utf8');
    } catch {
      return '';
    }
  };

  const proc: ManagedProcess = {
    name,
    pid,
    logFile: options.logFile,
    exited,
    running: () => !done,
    logTail,
    async stop(graceMs = 5000) {
      if (!done) {
        killGroup(pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      killGroup(pid, 'SIGKILL'); // anything the process left in its group
      if (watchdog.pid) killGroup(watchdog.pid, 'SIGKILL');
      live.delete(pid);
      saveState();
    },
  };
  live.set(pid, { proc, exe, watchdog });
  saveState();
  return proc;
}

/** Stops every process this Node process started, newest first. */
export async function stopAll(graceMs = 5000): Promise<void> {
  const procs = [...live.values()].map((t) => t.proc).reverse();
  for (const p of procs) await p.stop(graceMs);
}

/**
 * Kills the leftovers of harness runs whose owner is gone (SIGKILLed test runner, closed terminal) and
 * removes their temp dirs. Returns how many processes it killed.
 */
export function reapStale(): number {
  let killed = 0;
  let files: string[];
  try {
    files = readdirSync(STATE_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return 0;
  }
  for (const file of files) {
    const path = join(STATE_DIR, file);
    let state: StateFile;
    try {
      state = JSON.parse(readFileSync(path, 'utf8')) as StateFile;
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    if (state.ownerPid === process.pid) continue;
    const ownerAlive = procStart(state.ownerPid) !== undefined && procStart(state.ownerPid) === state.ownerStart;
    if (ownerAlive) continue;
    for (const { pid, exe } of state.processes ?? []) {
      if (procExe(pid) === exe) {
        killGroup(pid, 'SIGKILL');
        killed++;
      }
    }
    for (const dir of state.dirs ?? []) {
      if (dir.startsWith(tmpdir())) rmSync(dir, { recursive: true, force: true });
    }
    try {
      unlinkSync(path);
    } catch {
      // another reaper got it
    }
  }
  return killed + reapOrphanRegistries();
}

/**
 * registry.ts runs docker-registry as a plain child (no watchdog), so a SIGKILLed test runner leaves it
 * orphaned. Only orphans (parent pid 1) serving a harness config in the temp dir are touched.
 */
function reapOrphanRegistries(): number {
  let killed = 0;
  const config = new RegExp(`^${tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/chartorigin-registry-[^/]+/config\\.yml$`);
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const p of pids) {
    const pid = Number(p);
    let argv: string[];
    let stat: string;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    const cfg = argv[2] ?? '';
    if (ppid !== '1' || !(argv[0] ?? '').endsWith('docker-registry') || argv[1] !== 'serve' || !config.test(cfg)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      continue;
    }
    rmSync(cfg.slice(0, cfg.lastIndexOf('/')), { recursive: true, force: true });
  }
  return killed;
}

/**
 * For scripts (demo, fixture capture): on SIGINT/SIGTERM run `cleanup` (bounded), then exit 130/143.
 * Not for the test runner, which handles these signals itself and then calls globalTeardown.
 */
export function onInterrupt(cleanup: () => Promise<void>, timeoutMs = 15_000): void {
  let running = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (running) return;
    running = true;
    process.stderr.write(`\n${signal}: tearing down…\n`);
    const timer = setTimeout(() => process.exit(1), timeoutMs);
    timer.unref();
    cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}

const SECRET_FLAGS = /^--(password|token|from-literal|set|set-string|set-json|set-file|username|client-key-data|key-file|cert-file|ca-file|keyring)$/;

/** A command line fit for an error message or log: values of secret-bearing flags become `***`. */
export function redactArgs(args: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0 && SECRET_FLAGS.test(a.slice(0, eq))) {
      out.push(`${a.slice(0, eq)}=***`);
    } else if (SECRET_FLAGS.test(a) && i + 1 < args.length) {
      out.push(a, '***');
      i++;
    } else {
      out.push(a);
    }
  }
  return out.join(' ');
}
