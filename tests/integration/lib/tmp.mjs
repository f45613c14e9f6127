// Private temp dirs for test peers (mode 0700, under the OS temp dir),
// removed when the process exits cleanly; kept (and listed on stderr) after a
// failure or when TSSO_KEEP_TMP=1, so logs can be read.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made = [];

process.on('exit', (code) => {
  if (made.length === 0) return;
  const failed = (process.exitCode ?? code ?? 0) !== 0;
  if (failed || process.env.TSSO_KEEP_TMP === '1') {
    if (failed) process.stderr.write(`test peer logs kept in: ${made.join(' ')}\n`);
    return;
  }
  for (const d of made) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

/** A fresh private temp dir. */
export function tempDir(prefix = 'tsso-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}
