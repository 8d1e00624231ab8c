/**
 * Sealing round trips with a throwaway RSA-4096 key pair and certificate (openssl), decrypting
 * the way the sealed-secrets controller does, including the strict scope label.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encryptSecretItem } from '@linode/kubeseal-encrypt';
import fc from 'fast-check';
import { parse } from 'yaml';
import { dev } from '../environments';
import { contextFor, synthObjects } from '../main';
import { seal } from '../secrets/seal';
import {
  type SealedSecret,
  emptySealedSecret,
  hybridDecrypt,
  hybridEncrypt,
  loadSealedSecrets,
  parseSealedSecret,
  publicKeyFromPem,
  sealInto,
  unseal,
} from '../secrets/sealing';
import { ROOT, TSX, byId, podSpecOf, validateInChild } from './helpers';

let tmp: string;
let certPem: string;
let privateKey: crypto.KeyObject;
let publicKey: crypto.KeyObject;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'goticket-seal-'));
  // What Pulumi / the controller produce: an RSA-4096 key and a self-signed certificate.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:4096',
      '-nodes',
      '-keyout',
      path.join(tmp, 'key.pem'),
      '-out',
      path.join(tmp, 'dev.pem'),
      '-subj',
      '/CN=sealed-secret/O=sealed-secret',
      '-days',
      '2',
    ],
    { stdio: 'ignore' },
  );
  certPem = fs.readFileSync(path.join(tmp, 'dev.pem'), 'utf8');
  privateKey = crypto.createPrivateKey(fs.readFileSync(path.join(tmp, 'key.pem')));
  publicKey = publicKeyFromPem(certPem);
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const secretFor = (name: string, namespace: string, key: string, value: string): SealedSecret =>
  sealInto(emptySealedSecret(name, namespace), key, Buffer.from(value), publicKey);

describe('hybrid format', () => {
  test('length-prefixed RSA-OAEP block, then AES-256-GCM ciphertext and tag', () => {
    const plaintext = Buffer.from('postgres://user:pw@db:5432/x');
    const out = hybridEncrypt(publicKey, plaintext, Buffer.from('goticket/db'));
    expect(out.readUInt16BE(0)).toBe(512); // RSA-4096
    expect(out.length).toBe(2 + 512 + plaintext.length + 16);
    expect(hybridDecrypt(privateKey, out, Buffer.from('goticket/db'))).toEqual(plaintext);
  });

  test('OpenSSL (an independent OAEP implementation) recovers the session key, which opens the GCM body', () => {
    const label = Buffer.from('goticket/smtp');
    const plaintext = Buffer.from('smtp://mailer:pa55@smtp.example.com:587');
    const out = hybridEncrypt(publicKey, plaintext, label);
    const rsaLen = out.readUInt16BE(0);
    fs.writeFileSync(path.join(tmp, 'session.bin'), out.subarray(2, 2 + rsaLen));
    const sessionKey = execFileSync('openssl', [
      'pkeyutl',
      '-decrypt',
      '-inkey',
      path.join(tmp, 'key.pem'),
      '-in',
      path.join(tmp, 'session.bin'),
      '-pkeyopt',
      'rsa_padding_mode:oaep',
      '-pkeyopt',
      'rsa_oaep_md:sha256',
      '-pkeyopt',
      'rsa_mgf1_md:sha256',
      '-pkeyopt',
      `rsa_oaep_label:${label.toString('hex')}`,
    ]);
    expect(sessionKey).toHaveLength(32);
    const body = out.subarray(2 + rsaLen);
    const decipher = crypto.createDecipheriv('aes-256-gcm', sessionKey, Buffer.alloc(12));
    decipher.setAuthTag(body.subarray(body.length - 16));
    expect(Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()])).toEqual(plaintext);
  });

  test('each seal uses a fresh session key', () => {
    const a = hybridEncrypt(publicKey, Buffer.from('same'), Buffer.from('l'));
    const b = hybridEncrypt(publicKey, Buffer.from('same'), Buffer.from('l'));
    expect(a.equals(b)).toBe(false);
  });
});

/**
 * An independent oracle: @linode/kubeseal-encrypt, a separate implementation of the kubeseal format
 * (WebCrypto). It only encrypts, and only for the namespace-wide scope (its OAEP label is the
 * namespace), so it is checked where it can be: its output must unseal with this repository's
 * decryptor, and ours, sealed for that scope, must open with its algorithm parameters.
 */
describe('@linode/kubeseal-encrypt agrees (namespace-wide scope, the one it supports)', () => {
  const NAMESPACE_WIDE = { 'sealedsecrets.bitnami.com/namespace-wide': 'true' };
  const namespaceWide = (name: string, namespace: string): SealedSecret => {
    const secret = emptySealedSecret(name, namespace);
    return { ...secret, metadata: { ...secret.metadata, annotations: NAMESPACE_WIDE } };
  };
  const spkiPem = () => publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const namespaces = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);

  test('its output unseals with our decryptor, for any value and namespace', async () => {
    await fc.assert(
      fc.asyncProperty(namespaces, fc.string({ unit: 'grapheme', maxLength: 200 }), async (namespace, value) => {
        const sealed = namespaceWide('runtime', namespace);
        sealed.spec.encryptedData.VALUE = await encryptSecretItem(spkiPem(), namespace, value);
        expect(unseal(sealed, privateKey).VALUE!.toString('utf8')).toBe(value);
      }),
      { numRuns: 25 },
    );
  });

  test('its output and ours have the same layout: length prefix, RSA block, GCM body and tag', async () => {
    const value = 'postgres://user:pw@db:5432/x';
    const theirs = Buffer.from(await encryptSecretItem(spkiPem(), 'goticket', value), 'base64');
    const ours = hybridEncrypt(publicKey, Buffer.from(value), Buffer.from('goticket'));
    expect(theirs.length).toBe(ours.length);
    expect(theirs.subarray(0, 2)).toEqual(ours.subarray(0, 2));
  });

  test('its output does not unseal in the strict scope: the label is part of the format', async () => {
    const strict = emptySealedSecret('runtime', 'goticket');
    strict.spec.encryptedData.VALUE = await encryptSecretItem(spkiPem(), 'goticket', 'smtp://x');
    expect(() => unseal(strict, privateKey)).toThrow();
  });

  test('ours, sealed namespace-wide, opens with its parameters (RSA-OAEP SHA-256, label = namespace; AES-256-GCM, zero IV)', async () => {
    const value = 'smtp://mailer:pa55@smtp.example.com:587';
    const sealed = sealInto(namespaceWide('smtp', 'goticket'), 'SMTP_URL', Buffer.from(value), publicKey);
    const raw = Buffer.from(sealed.spec.encryptedData.SMTP_URL!, 'base64');
    const rsaLength = raw.readUInt16BE(0);
    const { subtle } = crypto.webcrypto;
    const rsaKey = await subtle.importKey(
      'pkcs8',
      privateKey.export({ type: 'pkcs8', format: 'der' }),
      { name: 'RSA-OAEP', hash: 'SHA-256' },
      false,
      ['decrypt'],
    );
    const sessionKey = await subtle.decrypt({ name: 'RSA-OAEP', label: Buffer.from('goticket') }, rsaKey, raw.subarray(2, 2 + rsaLength));
    const aesKey = await subtle.importKey('raw', sessionKey, { name: 'AES-GCM', length: 256 }, false, ['decrypt']);
    const plaintext = await subtle.decrypt(
      { name: 'AES-GCM', iv: new Uint8Array(12), tagLength: 128 },
      aesKey,
      raw.subarray(2 + rsaLength),
    );
    expect(Buffer.from(plaintext).toString()).toBe(value);
  });
});

describe('strict scope: only the namespace/name it was sealed for decrypts', () => {
  test('the controller unseals it in place', () => {
    expect(unseal(secretFor('smtp', 'goticket', 'SMTP_URL', 'smtp://x'), privateKey).SMTP_URL!.toString()).toBe('smtp://x');
  });

  test.each([
    ['another namespace', (s: SealedSecret) => ({ ...s, metadata: { ...s.metadata, namespace: 'default' } })],
    ['another name', (s: SealedSecret) => ({ ...s, metadata: { ...s.metadata, name: 'stolen' } })],
    [
      'cluster-wide annotation added',
      (s: SealedSecret) => ({ ...s, metadata: { ...s.metadata, annotations: { 'sealedsecrets.bitnami.com/cluster-wide': 'true' } } }),
    ],
  ])('%s fails to decrypt', (_label, move) => {
    expect(() => unseal(move(secretFor('smtp', 'goticket', 'SMTP_URL', 'smtp://x')), privateKey)).toThrow();
  });

  test('another cluster (key) fails to decrypt', () => {
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(() => unseal(secretFor('smtp', 'goticket', 'SMTP_URL', 'smtp://x'), other)).toThrow();
  });

  test('a flipped ciphertext bit fails (GCM tag)', () => {
    const s = secretFor('smtp', 'goticket', 'SMTP_URL', 'smtp://x');
    const raw = Buffer.from(s.spec.encryptedData.SMTP_URL!, 'base64');
    raw[raw.length - 20]! ^= 1;
    s.spec.encryptedData.SMTP_URL = raw.toString('base64');
    expect(() => unseal(s, privateKey)).toThrow();
  });
});

describe('npm run seal', () => {
  const plaintext = 'smtp://mailer:Sup3r-S3cret-Value@smtp.example.com:587';
  const run = (key: string, value: string) =>
    spawnSync(TSX, ['charts/secrets/seal.ts', '--env', 'dev', '--name', 'smtp', '--key', key, '--dir', tmp], {
      cwd: ROOT,
      input: value,
      encoding: 'utf8',
    });

  test('seals stdin into charts/secrets/<env>/<name>.yaml, keeps other keys, never writes the value', () => {
    const first = run('SMTP_URL', `${plaintext}\n`);
    expect(first.stderr).toContain('sealed into');
    expect(first.status).toBe(0);
    const second = run('SMTP_FROM', 'tickets@example.com');
    expect(second.status).toBe(0);

    const file = path.join(tmp, 'dev', 'smtp.yaml');
    const sealed = parseSealedSecret(fs.readFileSync(file, 'utf8'), file, 'goticket');
    expect(sealed.metadata).toEqual({ name: 'smtp', namespace: 'goticket' });
    expect(Object.keys(sealed.spec.encryptedData)).toEqual(['SMTP_FROM', 'SMTP_URL']);
    const values = unseal(sealed, privateKey);
    expect(values.SMTP_URL!.toString()).toBe(plaintext); // one trailing newline dropped
    expect(values.SMTP_FROM!.toString()).toBe('tickets@example.com');

    // Nothing under the folder holds the value in any common encoding.
    const needles = [plaintext, Buffer.from(plaintext).toString('base64'), Buffer.from(plaintext).toString('hex'), 'Sup3r-S3cret'];
    for (const f of fs.readdirSync(tmp, { recursive: true, encoding: 'utf8' })) {
      const full = path.join(tmp, f);
      if (fs.statSync(full).isFile())
        for (const needle of needles) expect([f, fs.readFileSync(full, 'utf8').includes(needle)]).toEqual([f, false]);
    }
    expect(fs.readdirSync(path.join(tmp, 'dev'))).toEqual(['smtp.yaml']); // no temp file left behind
  });

  test('synth picks the file up: a valid SealedSecret in dist, its keys in the api/worker environment', () => {
    const objects = synthObjects(contextFor(dev, tmp));
    const sealed = byId(objects, 'SealedSecret/smtp');
    expect(sealed.metadata.annotations['argocd.argoproj.io/sync-wave']).toBe('-1');
    expect(podSpecOf(byId(objects, 'Deployment/goticket-api')).containers[0].envFrom).toContainEqual({ secretRef: { name: 'smtp' } });
    expect(validateInChild(['-'], [sealed])[0]!.problems).toEqual([]);
    // The wave annotation is not a scope annotation: the synthesized object still decrypts.
    expect(unseal(sealed as SealedSecret, privateKey).SMTP_FROM!.toString()).toBe('tickets@example.com');
  });

  test.each([
    [['--env', 'dev', '--name', 'smtp', '--key', 'DATABASE_URL'], /already set by goticket-runtime/],
    [['--env', 'dev', '--name', 'smtp', '--key', 'LOG_LEVEL'], /already set/],
    [['--env', 'dev', '--name', 'smtp', '--key', 'smtp-url'], /environment variable name/],
    [['--env', 'dev', '--name', 'goticket-runtime', '--key', 'X'], /managed elsewhere/],
    [['--env', 'dev', '--name', 'Bad_Name', '--key', 'X'], /not a valid Secret name/],
    [['--env', 'staging', '--name', 'smtp', '--key', 'X'], /unknown environment/],
    [['--env', 'prod', '--name', 'smtp', '--key', 'X'], /no sealing certificate/],
    [['--env', 'dev', '--name', 'smtp'], /required/],
  ])('rejects %j', async (args, message) => {
    await expect(seal([...args, '--dir', tmp])).rejects.toThrow(message);
  });
});

describe('committed files are checked at synth', () => {
  const write = (name: string, text: string) => {
    const dir = fs.mkdtempSync(path.join(tmp, 'load-'));
    fs.writeFileSync(path.join(dir, name), text);
    return () => loadSealedSecrets(dir, 'goticket');
  };
  const good = () => secretFor('smtp', 'goticket', 'K', 'v');

  test('a plain Secret is refused', () => {
    expect(write('smtp.yaml', 'apiVersion: v1\nkind: Secret\nmetadata: {name: smtp, namespace: goticket}\nstringData: {K: v}\n')).toThrow(
      /plain Secrets never go to git/,
    );
  });
  test('another namespace is refused', () => {
    expect(write('smtp.yaml', JSON.stringify(secretFor('smtp', 'default', 'K', 'v')))).toThrow(/namespace must be goticket/);
  });
  test('a file not named after the secret is refused', () => {
    expect(write('other.yaml', JSON.stringify(good()))).toThrow(/file name must be smtp.yaml/);
  });
  test('a non-strict scope is refused', () => {
    const s = good();
    s.metadata.annotations = { 'sealedsecrets.bitnami.com/namespace-wide': 'true' };
    expect(write('smtp.yaml', JSON.stringify(s))).toThrow(/strict scope/);
  });
  test('a valid file loads as is', () => {
    const secret = good();
    expect(write('smtp.yaml', JSON.stringify(secret))()).toEqual([parse(JSON.stringify(secret))]);
  });
});
