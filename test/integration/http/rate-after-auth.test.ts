/**
 * docs/protocol.md §Limits: HTTP charges the sender's rate only after its token
 * checked out. Requests with a wrong token that name a victim's number are
 * refused 401 and cost the victim nothing.
 */
import { describe, expect, it } from 'vitest';
import { http } from '../../helpers/http.js';
import { useServer } from '../../helpers/v1.js';

const RATE = 2;
const env = useServer({ httpPort: 0, rateLimit: RATE });
const port = () => env.t.server.httpAddress!.port;

describe('HTTP: the per-number rate is charged after authentication', () => {
  it('wrong-token requests naming a victim get 401 and leave the victim its whole rate', async () => {
    const [victim, friend] = await env.users(2);
    // Ten times the victim's burst (twice its rate), all with a wrong token.
    for (let i = 0; i < 10 * 2 * RATE; i++) {
      const r = await http(port(), '/v1/messages', {
        auth: { number: victim!.number, token: 'not-the-token' },
        body: { to: friend!.number, text: `forged ${i}` },
      });
      expect(r.status, r.text).toBe(401);
    }
    const r = await http(port(), '/v1/messages', {
      auth: victim!,
      body: { to: friend!.number, text: 'mine' },
    });
    expect(r.status, r.text).toBe(201);
  });
});
