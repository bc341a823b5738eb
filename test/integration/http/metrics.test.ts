/**
 * README §Metrics: the numbers move when messages flow, summed over every
 * thread (main, broker, session hosts), in both threading modes; counters of
 * a host that retires (thread per client) never go backwards.
 */
import { describe, expect, it } from 'vitest';
import { http, sample } from '../../helpers/http.js';
import { ack, eventually, message, receive, sendStored, T0, useServer } from '../../helpers/v1.js';

describe.each([
  ['a dedicated thread per client (sessionsPerThread 1)', { sessionsPerThread: 1, threads: 16 }],
  ['pooled sessions (the default)', { threads: 2 }],
])('metrics with %s', (_mode, options) => {
  const env = useServer({ httpPort: 0, ...options });
  const scrape = async (): Promise<string> => {
    const r = await http(env.t.server.httpAddress!.port, '/metrics');
    expect(r.status).toBe(200);
    return r.text;
  };

  it('frames, messages, pending rows, SQL, commits, sessions and 09 statuses move as messages flow', async () => {
    const before = await scrape();
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice, false);
    const b = await env.session(bob, true);
    await eventually(
      async () => sample(await scrape(), 'zapwire_sessions{kind="push"}') >= 1,
      3_000,
      'a push session counted',
    );
    const open = await scrape();
    expect(sample(open, 'zapwire_sessions{kind="push"}')).toBeGreaterThanOrEqual(1);
    expect(sample(open, 'zapwire_sessions{kind="poll"}')).toBeGreaterThanOrEqual(1);

    await sendStored(a, message(alice.number, bob.number, 'counted', { ts: T0 }));
    // A 05 whose src is not the session's number: 09 403, the connection stays.
    a.send(message(bob.number, alice.number, 'not me'));
    expect((await a.next()).data).toMatch(/^403 /);
    await receive(b, 1);
    const stored = await scrape();
    const delta = (text: string, series: string) => sample(text, series) - sample(before, series);
    expect(delta(stored, 'zapwire_messages_stored_total')).toBe(1);
    expect(delta(stored, 'zapwire_pending_rows')).toBe(1);
    expect(delta(stored, 'zapwire_frames_in_total{code="01"}')).toBe(2);
    expect(delta(stored, 'zapwire_frames_in_total{code="04"}')).toBe(2);
    expect(delta(stored, 'zapwire_frames_in_total{code="05"}')).toBe(2);
    expect(delta(stored, 'zapwire_frames_out_total{code="02"}')).toBe(2);
    expect(delta(stored, 'zapwire_frames_out_total{code="07"}')).toBe(1);
    expect(delta(stored, 'zapwire_frames_out_total{code="06"}')).toBe(1);
    expect(delta(stored, 'zapwire_errors_total{status="403"}')).toBe(1);
    expect(delta(stored, 'zapwire_messages_delivered_total')).toBe(1);
    expect(delta(stored, 'zapwire_delivery_latency_seconds_count')).toBe(1);
    expect(delta(stored, 'zapwire_sql_statements_total')).toBeGreaterThan(0);
    expect(delta(stored, 'zapwire_sql_commits_total')).toBeGreaterThan(0);
    expect(delta(stored, 'zapwire_commit_seconds_count')).toBeGreaterThan(0);
    expect(delta(stored, 'zapwire_commit_batch_size_count')).toBeGreaterThan(0);
    expect(
      sample(stored, 'zapwire_event_loop_utilization{thread="broker"}'),
    ).toBeGreaterThanOrEqual(0);
    expect(stored).toMatch(/^zapwire_event_loop_utilization\{thread="host-\d+"\} /m);
    expect(stored).toMatch(/^zapwire_nodejs_eventloop_lag_seconds /m);
    // Each thread's own V8 heap, so that memory can be told apart by thread.
    for (const thread of ['main', 'broker']) {
      expect(
        sample(stored, `zapwire_thread_heap_bytes{thread="${thread}",kind="used"}`),
        thread,
      ).toBeGreaterThan(1_000_000);
      expect(
        sample(stored, `zapwire_thread_heap_bytes{thread="${thread}",kind="total"}`),
        thread,
      ).toBeGreaterThanOrEqual(
        sample(stored, `zapwire_thread_heap_bytes{thread="${thread}",kind="used"}`),
      );
    }
    expect(stored).toMatch(/^zapwire_thread_heap_bytes\{thread="host-\d+",kind="young"\} [1-9]/m);

    ack(b, bob.number, 1);
    await eventually(
      async () =>
        sample(await scrape(), 'zapwire_messages_acknowledged_total') -
          sample(before, 'zapwire_messages_acknowledged_total') ===
        1,
      3_000,
      'the ack counted',
    );
    const acked = await scrape();
    expect(delta(acked, 'zapwire_pending_rows')).toBe(0);
    expect(delta(acked, 'zapwire_frames_in_total{code="08"}')).toBe(1);

    // The sessions end (in thread-per-client mode their hosts retire): gauges
    // go back, counters stay where they were.
    env.dropAll();
    await eventually(
      async () => {
        const text = await scrape();
        return (
          sample(text, 'zapwire_sessions{kind="push"}') ===
            sample(before, 'zapwire_sessions{kind="push"}') &&
          sample(text, 'zapwire_sessions{kind="poll"}') ===
            sample(before, 'zapwire_sessions{kind="poll"}')
        );
      },
      5_000,
      'the sessions gauge back to where it was',
    );
    const after = await scrape();
    for (const series of [
      'zapwire_frames_in_total{code="05"}',
      'zapwire_frames_out_total{code="06"}',
      'zapwire_messages_delivered_total',
      'zapwire_errors_total{status="403"}',
    ]) {
      expect(sample(after, series), series).toBeGreaterThanOrEqual(sample(acked, series));
    }
  });

  it('counts a group fan-out and an HTTP send', async () => {
    const [alice, bob, carol] = await env.users(3);
    const before = await scrape();
    const a = await env.session(alice, false);
    a.send({ code: '10', src: alice.number, ts: T0, data: bob.number + carol.number });
    const group = (await a.next()).dst;
    await sendStored(a, message(alice.number, group, 'to all'));
    const r = await http(env.t.server.httpAddress!.port, '/v1/messages', {
      auth: alice,
      body: { to: bob.number, text: 'over HTTP' },
    });
    expect(r.status).toBe(201);
    const after = await scrape();
    expect(
      sample(after, 'zapwire_group_fanout_count') - sample(before, 'zapwire_group_fanout_count'),
    ).toBe(1);
    expect(
      sample(after, 'zapwire_group_fanout_sum') - sample(before, 'zapwire_group_fanout_sum'),
    ).toBe(2);
    // Two notices, two group copies, one direct message.
    expect(
      sample(after, 'zapwire_messages_stored_total') -
        sample(before, 'zapwire_messages_stored_total'),
    ).toBe(5);
    expect(
      sample(after, 'zapwire_http_requests_total{status="201"}') -
        sample(before, 'zapwire_http_requests_total{status="201"}'),
    ).toBe(1);
  });
});
