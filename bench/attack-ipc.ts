/**
 * Messages between the attack tool (bench/attack.ts) and its children: the
 * server under attack (bench/attack-server.ts) and the attacker processes
 * (bench/attack-load.ts). One request at a time per child, so no request ids.
 */
import type { ServerOptions } from '../src/server/config.js';
import type { Identity } from './attack-wire.js';

export type ServerRequest = { t: 'start'; options: Partial<ServerOptions> } | { t: 'stop' };

export type ServerReply =
  | { t: 'ready'; port: number; httpPort?: number; legacyPort?: number }
  | { t: 'stopped' }
  | { t: 'failed'; message: string };

/** What an attacker process is told: where the server is, how long, and its share of the attack. */
export interface LoadEnv {
  port: number;
  httpPort?: number;
  legacyPort?: number;
  durationMs: number;
  /** This process's index among `of` attacker processes. */
  index: number;
  of: number;
}

export type LoadRequest =
  | { t: 'prepare'; attack: string; env: LoadEnv }
  | { t: 'run' }
  | { t: 'stop' };

/**
 * What the attacker saw: counters (summed over processes), hdr histograms
 * (compressed base64, microseconds; merged), and facts (from process 0).
 */
export interface AttackerReport {
  counters: Record<string, number>;
  hists: Record<string, string>;
  facts: Record<string, string | number | boolean>;
}

export type LoadReply =
  | { t: 'prepared' }
  | { t: 'result'; report: AttackerReport }
  | { t: 'failed'; message: string };

export type { Identity };
