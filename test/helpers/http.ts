import { request } from 'node:http';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: a test reads whatever fields it expects
  json: any;
}

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string | number>;
  /** A string or object body (objects are sent as JSON). */
  body?: string | object;
  /** Bearer credentials of a user. */
  auth?: { number: string; token: string };
}

/** One HTTP request to the test server's HTTP API on 127.0.0.1. */
export function http(
  port: number,
  path: string,
  options: HttpRequestOptions = {},
): Promise<HttpAnswer> {
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string | number> = { ...options.headers };
  if (options.auth) headers.authorization = `Bearer ${options.auth.number}:${options.auth.token}`;
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve(answer(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8'))),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export function answer(status: number, headers: HttpAnswer['headers'], text: string): HttpAnswer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, headers, text, json };
}

/** The value of one sample in Prometheus text (`name{labels} value`); 0 when absent. */
export function sample(metrics: string, series: string): number {
  for (const line of metrics.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return 0;
}
