// The module specifiers a TypeScript source imports, for the tests that hold the layers apart
// (raft-core-imports, layer-imports).

/** Every module specifier of a source: static imports and re-exports, import(), require(). */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"`]([^'"`]+)['"`]/g, /\brequire\s*\(\s*['"`]([^'"`]+)['"`]/g];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]);
  // A dynamic import of a computed name cannot be checked: it is refused as well.
  if (/\bimport\s*\(\s*[^'"`\s]/.test(source) || /\brequire\s*\(\s*[^'"`\s]/.test(source)) out.push('<computed>');
  return out;
}
