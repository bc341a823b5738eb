/**
 * DESIGN.md §Module map is the newcomer's way in: it must list every folder of
 * src/, and every path it names must exist.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const design = readFileSync(join(ROOT, 'DESIGN.md'), 'utf8');
const start = design.indexOf('## Module map');
const map = design.slice(start, design.indexOf('\n## ', start + 1));

function folders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      return [path, ...folders(path)];
    });
}

/** The rows' first cells: `src/...` folders and files. */
const rows = [...map.matchAll(/^\| `(src\/[^`]*)` \|/gm)].map((m) => m[1]!);

describe('DESIGN.md §Module map', () => {
  it('has a section', () => {
    expect(start).toBeGreaterThan(0);
    expect(rows.length).toBeGreaterThan(5);
  });

  it.each(folders(join(ROOT, 'src')).map((dir) => `${relative(ROOT, dir)}/`))(
    'lists %s (a row of its own, or a file of its parent row)',
    (folder) => {
      const parent = `${folder.split('/').slice(0, -2).join('/')}/`;
      const name = `${folder.split('/').at(-2)}/`;
      const listed = rows.includes(folder) || map.includes(`\`${name}\``);
      expect(listed, `${folder} (or \`${name}\` in the row of ${parent})`).toBe(true);
    },
  );

  it.each(rows)('names %s, which exists', (path) => {
    expect(existsSync(join(ROOT, path))).toBe(true);
  });

  it('names only files that exist in the folder of their row', () => {
    for (const line of map.split('\n')) {
      const row = /^\| `(src\/[^`]*\/)` \|.*\| (.*) \|$/.exec(line);
      if (!row) continue;
      for (const [, file] of row[2]!.matchAll(/`([\w.-]+\.ts|[\w-]+\/)`/g)) {
        expect(existsSync(join(ROOT, row[1]!, file!)), `${row[1]}${file}`).toBe(true);
      }
    }
  });
});
