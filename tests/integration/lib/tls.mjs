// Test PKI via the openssl CLI: one CA per call, server certificates for
// 127.0.0.1/localhost signed by it. Keys stay in the given (private) dir.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './tmp.mjs';

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
}

/** Make a CA in dir (default: new temp dir). Returns {dir, cert, key}. */
export function makeCa(dir = tempDir('tsso-ca-'), cn = 'toucan-sso test CA') {
  const cert = path.join(dir, 'ca.pem');
  const key = path.join(dir, 'ca.key');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { dir, cert, key };
}

/**
 * Issue a server certificate signed by ca for the given SANs
 * (default IP:127.0.0.1, DNS:localhost). Returns {cert, key, ca}.
 */
export function makeServerCert(ca, { name = 'server', sans = ['IP:127.0.0.1', 'DNS:localhost'] } = {}) {
  const dir = ca.dir;
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n`
    + `extendedKeyUsage=serverAuth\nsubjectAltName=${sans.join(',')}\n`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', csr, '-subj', `/CN=${name}`], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-out', cert, '-days', '2', '-extfile', ext], dir);
  return { cert, key, ca: ca.cert };
}
