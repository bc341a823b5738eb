import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * docs/sdk.md is written by hand; this keeps it in step with the source: the
 * public members of ZapwireClient, its events and its options, read from the
 * TypeScript source with the compiler's parser, are exactly the ones the page
 * documents. For ZapwireServer every member the page names must exist.
 */

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const doc = read('docs/sdk.md');

function parse(path: string): ts.SourceFile {
  return ts.createSourceFile(path, read(path), ts.ScriptTarget.ES2022, true);
}

function declaration<T extends ts.Node>(
  file: ts.SourceFile,
  test: (node: ts.Node) => node is T,
  name: string,
): T {
  const found = file.statements.find(
    (s) => test(s) && (s as unknown as { name?: ts.Identifier }).name?.text === name,
  );
  if (!found) throw new Error(`${name} not found in ${file.fileName}`);
  return found as unknown as T;
}

/** Public instance and static members (methods, accessors, properties), constructor excluded. */
function publicMembers(cls: ts.ClassDeclaration): { instance: string[]; statics: string[] } {
  const instance = new Set<string>();
  const statics = new Set<string>();
  for (const member of cls.members) {
    if (ts.isConstructorDeclaration(member) || !member.name) continue;
    if (!ts.isIdentifier(member.name)) continue; // #private names
    const modifiers = ts.canHaveModifiers(member) ? (ts.getModifiers(member) ?? []) : [];
    const kinds = modifiers.map((m) => m.kind);
    if (kinds.includes(ts.SyntaxKind.PrivateKeyword)) continue;
    if (kinds.includes(ts.SyntaxKind.ProtectedKeyword)) continue;
    (kinds.includes(ts.SyntaxKind.StaticKeyword) ? statics : instance).add(member.name.text);
  }
  return { instance: [...instance].sort(), statics: [...statics].sort() };
}

function interfaceKeys(file: ts.SourceFile, name: string): string[] {
  const node = declaration(file, ts.isInterfaceDeclaration, name);
  return node.members
    .map((m) => (m.name && ts.isIdentifier(m.name) ? m.name.text : undefined))
    .filter((n): n is string => n !== undefined)
    .sort();
}

function documented(pattern: RegExp, text = doc): string[] {
  return [...text.matchAll(pattern)].map((m) => m[1]!).sort();
}

/** The text of one `## ` section of the page. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/sdk.md has no section ## ${title}`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

describe('docs/sdk.md', () => {
  const client = parse('src/client/zapwire-client.ts');
  const options = parse('src/client/client-options.ts');

  it('documents every public method and property of ZapwireClient, and no other', () => {
    const members = publicMembers(declaration(client, ts.isClassDeclaration, 'ZapwireClient'));
    expect(members.statics).toEqual([]);
    expect(members.instance.length).toBeGreaterThan(10);
    expect(documented(/^### `client\.(\w+)/gm)).toEqual(members.instance);
  });

  it('documents every event, and no other', () => {
    const events = interfaceKeys(client, 'ZapwireClientEvents');
    expect(events).toContain('message');
    expect(documented(/^### Event `(\w+)`/gm)).toEqual(events);
  });

  it('documents every option, and no other', () => {
    const keys = interfaceKeys(options, 'ZapwireClientOptions');
    expect(keys).toContain('host');
    expect(documented(/^\| `(\w+)` \|/gm, section('Options'))).toEqual(keys);
  });

  it('names only ZapwireServer members that exist, and the ones embedding needs', () => {
    const server = publicMembers(
      declaration(parse('src/server/server.ts'), ts.isClassDeclaration, 'ZapwireServer'),
    );
    const named = documented(/^### `server\.(\w+)/gm);
    const statics = documented(/^### `ZapwireServer\.(\w+)/gm);
    for (const name of named) expect(server.instance).toContain(name);
    for (const name of statics) expect(server.statics).toContain(name);
    expect(statics).toContain('start');
    expect(named).toEqual(expect.arrayContaining(['address', 'close']));
  });
});
