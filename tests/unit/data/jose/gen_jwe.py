#!/usr/bin/env python3
"""Writes the JWE fixtures of test_jwe.c with python3-cryptography, an
implementation independent of cjose (RFC 7516/7518), so that the tests check
interoperability and not cjose against itself. Run from this folder:
    python3 gen_jwe.py
Outputs jwe-*.txt (one compact JWE each) and ed25519-rfc8037.pem."""
import base64
import json
import os
import struct

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

PLAIN = b'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln'


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()


def load(name):
    with open(name, 'rb') as f:
        return serialization.load_pem_private_key(f.read(), None)


ENC = {  # enc -> (cek bytes, iv bytes)
    'A128GCM': (16, 12), 'A256GCM': (32, 12),
    'A128CBC-HS256': (32, 16), 'A256CBC-HS512': (64, 16),
}


def content(enc, cek, header_b64, plain):
    """RFC 7518 §5.2 (CBC-HMAC) and §5.3 (GCM); returns iv, ciphertext, tag."""
    aad = header_b64.encode()
    iv = os.urandom(ENC[enc][1])
    if 'GCM' in enc:
        out = AESGCM(cek).encrypt(iv, plain, aad)
        return iv, out[:-16], out[-16:]
    half = len(cek) // 2
    mac_key, enc_key = cek[:half], cek[half:]
    pad = 16 - len(plain) % 16
    e = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
    ct = e.update(plain + bytes([pad]) * pad) + e.finalize()
    h = hmac.HMAC(mac_key, hashes.SHA256() if half == 16 else hashes.SHA512())
    h.update(aad + iv + ct + struct.pack('>Q', len(aad) * 8))
    return iv, ct, h.finalize()[:half]


def compact(header, ek, enc, cek, plain=PLAIN):
    hb = b64(json.dumps(header, separators=(',', ':')).encode())
    iv, ct, tag = content(enc, cek, hb, plain)
    return '.'.join([hb, b64(ek), b64(iv), b64(ct), b64(tag)])


def rsa_jwe(key, alg, enc, extra=None):
    cek = os.urandom(ENC[enc][0])
    pub = key.public_key()
    if alg == 'RSA1_5':
        ek = pub.encrypt(cek, padding.PKCS1v15())
    else:
        h = hashes.SHA1() if alg == 'RSA-OAEP' else hashes.SHA256()
        ek = pub.encrypt(cek, padding.OAEP(padding.MGF1(h), h, None))
    header = {'alg': alg, 'enc': enc}
    header.update(extra or {})
    return compact(header, ek, enc, cek)


def concat_kdf(z, alg_id, keylen, apu=b'', apv=b''):
    """RFC 7518 §4.6.2."""
    other = (struct.pack('>I', len(alg_id)) + alg_id.encode() + struct.pack('>I', len(apu)) +
             apu + struct.pack('>I', len(apv)) + apv + struct.pack('>I', keylen * 8))
    return ConcatKDFHash(hashes.SHA256(), keylen, other).derive(z)


def ecdh_jwe(key, alg, enc, epk_curve=None, apu=b'', apv=b''):
    eph = ec.generate_private_key(epk_curve or key.curve)
    nums = eph.public_key().public_numbers()
    size = (eph.curve.key_size + 7) // 8
    crv = {'secp256r1': 'P-256', 'secp384r1': 'P-384', 'secp521r1': 'P-521'}[eph.curve.name]
    epk = {'kty': 'EC', 'crv': crv, 'x': b64(nums.x.to_bytes(size, 'big')),
           'y': b64(nums.y.to_bytes(size, 'big'))}
    z = eph.exchange(ec.ECDH(), key.public_key()) if epk_curve is None else os.urandom(32)
    header = {'alg': alg, 'enc': enc, 'epk': epk}
    if apu or apv:
        header.update({'apu': b64(apu), 'apv': b64(apv)})
    if alg == 'ECDH-ES':
        cek = concat_kdf(z, enc, ENC[enc][0], apu, apv)
        return compact(header, b'', enc, cek)
    kw = {'ECDH-ES+A128KW': 16, 'ECDH-ES+A192KW': 24, 'ECDH-ES+A256KW': 32}[alg]
    kek = concat_kdf(z, alg, kw)
    cek = os.urandom(ENC[enc][0])
    return compact(header, aes_key_wrap(kek, cek), enc, cek)


def main():
    rsa = load('jwe-rsa.pem')
    p256 = load('jwe-p256.pem')
    out = {
        'rsa-oaep-a128gcm': rsa_jwe(rsa, 'RSA-OAEP', 'A128GCM'),
        'rsa-oaep-a256gcm': rsa_jwe(rsa, 'RSA-OAEP', 'A256GCM', {'kid': 'enc-1'}),
        'rsa-oaep-a128cbc-hs256': rsa_jwe(rsa, 'RSA-OAEP', 'A128CBC-HS256', {'cty': 'JWT'}),
        'rsa-oaep-a256cbc-hs512': rsa_jwe(rsa, 'RSA-OAEP', 'A256CBC-HS512'),
        'rsa-oaep-256-a256gcm': rsa_jwe(rsa, 'RSA-OAEP-256', 'A256GCM'),
        'rsa1_5-a128gcm': rsa_jwe(rsa, 'RSA1_5', 'A128GCM'),
        'rsa-oaep-a192gcm': compact({'alg': 'RSA-OAEP', 'enc': 'A192GCM'}, b'x' * 256,
                                    'A128GCM', os.urandom(16)),
        'rsa-oaep-zip': rsa_jwe(rsa, 'RSA-OAEP', 'A128GCM', {'zip': 'DEF'}),
        'dir-a128gcm': compact({'alg': 'dir', 'enc': 'A128GCM'}, b'', 'A128GCM', os.urandom(16)),
        'ecdh-es-a256gcm': ecdh_jwe(p256, 'ECDH-ES', 'A256GCM'),
        'ecdh-es-a128cbc-hs256': ecdh_jwe(p256, 'ECDH-ES', 'A128CBC-HS256'),
        'ecdh-es-apu-a256gcm': ecdh_jwe(p256, 'ECDH-ES', 'A256GCM', None, b'Alice', b'Bob'),
        'ecdh-es-a128kw-a128gcm': ecdh_jwe(p256, 'ECDH-ES+A128KW', 'A128GCM'),
        'ecdh-es-epk-p384': ecdh_jwe(p256, 'ECDH-ES', 'A256GCM', ec.SECP384R1()),
    }
    for name, tok in out.items():
        with open('jwe-%s.txt' % name, 'w') as f:
            f.write(tok)
    # RFC 8037 §A.1: the Ed25519 private key of the EdDSA vectors.
    d = base64.urlsafe_b64decode('nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=')
    pem = ed25519.Ed25519PrivateKey.from_private_bytes(d).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    with open('ed25519-rfc8037.pem', 'wb') as f:
        f.write(pem)


if __name__ == '__main__':
    main()
