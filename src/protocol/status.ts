/** Error statuses carried by a `09` frame (docs/protocol.md §Codes). */
export const Status = {
  Malformed: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  /** An anonymous connection stayed idle past the server's time limit (docs/protocol.md §Limits). */
  Timeout: 408,
  Replaced: 409,
  TooLarge: 413,
  TooMany: 429,
  Unavailable: 503,
} as const;

export type Status = (typeof Status)[keyof typeof Status];

/** docs/protocol.md: only 400, 401, 408 and 409 also close the connection. */
export function statusClosesConnection(status: number): boolean {
  return (
    status === Status.Malformed ||
    status === Status.Unauthorized ||
    status === Status.Timeout ||
    status === Status.Replaced
  );
}
