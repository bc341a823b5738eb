/**
 * CPU time of a process and of each of its threads, read from Linux /proc by
 * the parent, the same way for zapwire, aedes and mosquitto: per thread the
 * nanoseconds it ran (`task/<tid>/schedstat`, exact), for the process its
 * utime + stime in clock ticks (`stat`, which also counts threads that have
 * exited). A database engine that forks a process per connection
 * (PostgreSQL) is read as a tree (readTreeCpu). Elsewhere than Linux every
 * reading is undefined and the report says CPU was not measured.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcCpu {
  /** ms, performance.timeOrigin + performance.now() */
  at: number;
  /** utime + stime of the whole process, ns (clock-tick resolution). */
  totalNs: number;
  /** tid -> ns on CPU */
  threads: Map<number, number>;
}

/** USER_HZ: 100 on every Linux that Node supports (getconf CLK_TCK). */
const NS_PER_TICK = 10_000_000;

/** The fields of /proc/<pid>/stat after the command (which may contain spaces): f[0] is field 3 (state), f[1] the parent pid, f[11] + f[12] utime + stime, f[13] + f[14] the reaped children's. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

const ticks = (f: string[], at: number) => (Number(f[at]) + Number(f[at + 1])) * NS_PER_TICK;

export function readProcCpu(pid: number | undefined): ProcCpu | undefined {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    const totalNs = ticks(statFields(pid), 11);
    const threads = new Map<number, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        threads.set(
          Number(tid),
          Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]),
        );
      } catch {
        // the thread exited between the listing and the read
      }
    }
    return { at: performance.timeOrigin + performance.now(), totalNs, threads };
  } catch {
    return undefined;
  }
}

export interface ThreadShare {
  /** 'main' (tid = pid), a name given by the caller, 'tid <n>', or 'others' (every other thread under 2% of a core, summed). */
  thread: string;
  cpuPercent: number;
}

export interface CpuUse {
  /** % of one core over the interval */
  cpuPercent: number;
  /** CPU time used over the interval, µs */
  cpuUs: number;
  /** Busiest threads first; threads under 2% of a core summed as 'others'. */
  threads: ThreadShare[];
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** `names` names threads (e.g. zapwire's Workers); named threads are listed whatever their share. */
export function cpuBetween(
  pid: number,
  a: ProcCpu | undefined,
  b: ProcCpu | undefined,
  names: ReadonlyMap<number, string> = new Map(),
): CpuUse | undefined {
  if (!a || !b || b.at <= a.at) return undefined;
  const wallNs = (b.at - a.at) * 1e6;
  const shares: { tid: number; pct: number }[] = [];
  for (const [tid, ns] of b.threads)
    shares.push({ tid, pct: ((ns - (a.threads.get(tid) ?? 0)) / wallNs) * 100 });
  shares.sort((x, y) => y.pct - x.pct);
  const threads: ThreadShare[] = [];
  let others = 0;
  for (const s of shares) {
    const name = s.tid === pid ? 'main' : names.get(s.tid);
    if (name !== undefined || s.pct >= 2)
      threads.push({ thread: name ?? `tid ${s.tid}`, cpuPercent: round1(s.pct) });
    else others += s.pct;
  }
  if (others > 0) threads.push({ thread: 'others', cpuPercent: round1(others) });
  // The process's ticks count threads that exited meanwhile, but only to 10 ms;
  // the live threads' nanoseconds are exact: a broker using less than a tick
  // in a short step (mosquitto, in the smoke test) must not read as 0.
  let threadsNs = 0;
  for (const [tid, ns] of b.threads) threadsNs += ns - (a.threads.get(tid) ?? 0);
  const cpuNs = Math.max(b.totalNs - a.totalNs, threadsNs);
  return { cpuPercent: round1((cpuNs / wallNs) * 100), cpuUs: Math.round(cpuNs / 1000), threads };
}

/** `root` and every process below it (parents read from each /proc/<pid>/stat), root first. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = Number(statFields(Number(entry))[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // the process exited between the listing and the read
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/**
 * CPU of a process and of every process below it (PostgreSQL's postmaster and
 * its backends), in the shape of readProcCpu: `threads` holds one entry per
 * process (its threads' nanoseconds, as readProcCpu reads them), and the
 * total adds what each process's children that have exited and been reaped
 * used (cutime + cstime), so a backend that ends between two readings still
 * counts.
 */
export function readTreeCpu(root: number | undefined): ProcCpu | undefined {
  if (root === undefined || process.platform !== 'linux') return undefined;
  try {
    statFields(root);
  } catch {
    return undefined;
  }
  let totalNs = 0;
  const threads = new Map<number, number>();
  for (const pid of processTree(root)) {
    const own = readProcCpu(pid);
    let reaped: number;
    try {
      reaped = ticks(statFields(pid), 13);
    } catch {
      continue; // exited meanwhile: its time is in its parent's reaped children's, once reaped
    }
    if (!own) continue;
    // Its live threads only (exact, and never going back between readings: an
    // engine's threads live as long as their process).
    let ns = 0;
    for (const t of own.threads.values()) ns += t;
    threads.set(pid, ns);
    totalNs += ns + reaped;
  }
  return { at: performance.timeOrigin + performance.now(), totalNs, threads };
}

/** Every core of the machine together, from /proc/stat: ns busy (anything but idle and iowait) up to `at`. */
export interface MachineCpu {
  at: number;
  busyNs: number;
}

export function readMachineCpu(): MachineCpu | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal …, in clock ticks
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = f.reduce((a, x) => a + x, 0) - f[3]! - f[4]!;
    return { at: performance.timeOrigin + performance.now(), busyNs: busy * NS_PER_TICK };
  } catch {
    return undefined;
  }
}

/** The machine's CPU between two readings, % of one core (up to 100 × the cores). */
export function machineBetween(a: MachineCpu | undefined, b: MachineCpu | undefined) {
  if (!a || !b || b.at <= a.at) return undefined;
  return round1(((b.busyNs - a.busyNs) / ((b.at - a.at) * 1e6)) * 100);
}
