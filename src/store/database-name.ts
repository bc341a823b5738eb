/**
 * What `--db` names, told apart without loading an engine (the main thread
 * logs it; only the broker thread opens it).
 */

/** Whether `--db` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

/** The URL without its password, to name the database in messages and logs. */
export function redacted(url: string, unparsable = 'the PostgreSQL database'): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return unparsable;
  }
}

/** `--db` as it may be logged: a file as given, a URL without its password. */
export function databaseName(db: string): string {
  return isPostgresUrl(db) ? redacted(db) : db;
}
