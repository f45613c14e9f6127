// Private temp dirs for test peers (mode 0700, under the OS temp dir).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh private temp dir. */
export function tempDir(prefix = 'tsso-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
