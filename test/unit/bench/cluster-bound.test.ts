import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { boundOf, type ProcessUse } from '../../../bench/cluster.js';
import { cpuBetween, processTree, readTreeCpu } from '../../../bench/proc-cpu.js';

const use = (process: string, threads: [string, number][]): ProcessUse => ({
  process,
  cpu: {
    cpuPercent: threads.reduce((a, [, pct]) => a + pct, 0),
    cpuUs: 0,
    threads: threads.map(([thread, cpuPercent]) => ({ thread, cpuPercent })),
  },
  cpuUsPerMsg: undefined,
});

describe('what bounds a cluster benchmark step (bench/cluster.ts boundOf)', () => {
  it('names the busiest thread of every process, and calls it the bound when it is near a core', () => {
    const b = boundOf(
      [
        use('node A', [
          ['js1', 95],
          ['main', 20],
        ]),
        use('PostgreSQL', [['backend :1', 40]]),
      ],
      { generators: 10, machine: undefined },
      4,
    );
    expect(b).toEqual({
      busiest: 'node A js1',
      busiestPercent: 95,
      totalPercent: 165,
      machinePercent: undefined,
      cores: 4,
      by: 'thread',
    });
  });

  it('calls the cores the bound when no thread is near a core but all processes together are', () => {
    const b = boundOf(
      [
        use('node', [
          ['js1', 70],
          ['main', 60],
        ]),
        use('Redis', [['main', 30]]),
      ],
      { generators: 20, machine: 190 },
      2,
    );
    expect(b.by).toBe('cores');
    expect(b.busiest).toBe('node js1');
  });

  it('calls it waits when neither is near full, and never counts the summed small threads as the busiest', () => {
    const b = boundOf(
      [
        use('node', [
          ['others', 60],
          ['js1', 30],
        ]),
      ],
      { generators: 5, machine: 100 },
      2,
    );
    expect(b).toMatchObject({ busiest: 'node js1', busiestPercent: 30, by: 'waits' });
  });

  it('says the cores were shared when the machine was near full with work other than the processes measured', () => {
    const b = boundOf(
      [use('node', [['js1', 40]]), use('PostgreSQL', [['main', 20]])],
      { generators: 10, machine: 195 },
      2,
    );
    expect(b).toMatchObject({ totalPercent: 70, machinePercent: 195, by: 'shared' });
  });

  it('says unknown when a process could not be read', () => {
    expect(
      boundOf(
        [{ process: 'node', cpu: undefined, cpuUsPerMsg: undefined }],
        { generators: 0, machine: 199 },
        2,
      ).by,
    ).toBe('unknown');
  });
});

describe.runIf(process.platform === 'linux')(
  'CPU of a process tree (bench/proc-cpu.ts readTreeCpu)',
  () => {
    it("counts the CPU of a process's children, as PostgreSQL's backends are counted with the postmaster", async () => {
      // A shell whose child burns 300 ms of CPU time (not of wall time: a loaded
      // machine only makes it take longer), then exits; the shell itself uses next to nothing.
      const burn = 'const s=process.cpuUsage(); while (process.cpuUsage(s).user < 300000);';
      const parent = spawn('sh', ['-c', `node -e "${burn}" ; sleep 30`], { stdio: 'ignore' });
      try {
        const a = readTreeCpu(parent.pid);
        let tree: number[] = [];
        const deadline = Date.now() + 20_000;
        while (tree.length < 2 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          tree = processTree(parent.pid!);
        }
        expect(tree[0]).toBe(parent.pid);
        expect(tree.length).toBeGreaterThanOrEqual(2);
        // Wait until the child has burnt its CPU and gone (its time then counts in the
        // shell's cutime; the shell goes on to `sleep`).
        const burner = tree[1];
        while (processTree(parent.pid!).includes(burner!) && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 20));
        const b = readTreeCpu(parent.pid);
        const use = cpuBetween(parent.pid!, a, b)!;
        expect(use.cpuUs).toBeGreaterThan(250_000);
        expect(use.threads.find((t) => t.thread === 'main')!.cpuPercent).toBeLessThan(10);
      } finally {
        parent.kill('SIGKILL');
      }
    });
  },
);
