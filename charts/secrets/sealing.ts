/**
 * The Sealed Secrets hybrid format (kubeseal / controller `pkg/crypto`), with node:crypto:
 *   RSA-OAEP(SHA-256, label = scope label) over a random 32-byte AES-256-GCM session key;
 *   output = uint16 big-endian length of the RSA ciphertext ‖ RSA ciphertext ‖ AES-GCM
 *   ciphertext ‖ 16-byte tag (zero nonce: each session key encrypts exactly one value).
 * Strict scope: the label is `<namespace>/<name>`, so a sealed value only decrypts in the
 * SealedSecret it was sealed for.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

export const API_VERSION = 'bitnami.com/v1alpha1';
const SESSION_KEY_BYTES = 32;
const GCM_NONCE = Buffer.alloc(12); // zero nonce, as the controller
const GCM_TAG_BYTES = 16;
const CLUSTER_WIDE = 'sealedsecrets.bitnami.com/cluster-wide';
const NAMESPACE_WIDE = 'sealedsecrets.bitnami.com/namespace-wide';

export interface SealedSecret {
  apiVersion: typeof API_VERSION;
  kind: 'SealedSecret';
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: {
    encryptedData: Record<string, string>;
    template: { metadata: { name: string; namespace: string }; type: 'Opaque' };
  };
}

/** The controller's EncryptionLabel: strict unless the object says cluster- or namespace-wide. */
export function scopeLabel(metadata: SealedSecret['metadata']): Buffer {
  const annotations = metadata.annotations ?? {};
  if (annotations[CLUSTER_WIDE] === 'true') return Buffer.alloc(0);
  if (annotations[NAMESPACE_WIDE] === 'true') return Buffer.from(metadata.namespace);
  return Buffer.from(`${metadata.namespace}/${metadata.name}`);
}

export function hybridEncrypt(publicKey: crypto.KeyObject, plaintext: Buffer, label: Buffer): Buffer {
  const sessionKey = crypto.randomBytes(SESSION_KEY_BYTES);
  const rsaCiphertext = crypto.publicEncrypt(
    { key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label },
    sessionKey,
  );
  const length = Buffer.alloc(2);
  length.writeUInt16BE(rsaCiphertext.length);
  const cipher = crypto.createCipheriv('aes-256-gcm', sessionKey, GCM_NONCE);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  sessionKey.fill(0);
  return Buffer.concat([length, rsaCiphertext, body]);
}

/** What the controller does per value (HybridDecrypt); throws when the label or key do not match. */
export function hybridDecrypt(privateKey: crypto.KeyObject, ciphertext: Buffer, label: Buffer): Buffer {
  if (ciphertext.length < 2) throw new Error('ciphertext too short');
  const rsaLength = ciphertext.readUInt16BE(0);
  if (ciphertext.length < rsaLength + 2 + GCM_TAG_BYTES) throw new Error('ciphertext too short');
  const sessionKey = crypto.privateDecrypt(
    { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label },
    ciphertext.subarray(2, rsaLength + 2),
  );
  const aes = ciphertext.subarray(rsaLength + 2);
  const decipher = crypto.createDecipheriv('aes-256-gcm', sessionKey, GCM_NONCE);
  decipher.setAuthTag(aes.subarray(aes.length - GCM_TAG_BYTES));
  return Buffer.concat([decipher.update(aes.subarray(0, aes.length - GCM_TAG_BYTES)), decipher.final()]);
}

/** The environment's sealing certificate (`kubeseal --fetch-cert` output) or a bare public key. */
export function publicKeyFromPem(pem: string): crypto.KeyObject {
  const key = pem.includes('BEGIN CERTIFICATE') ? new crypto.X509Certificate(pem).publicKey : crypto.createPublicKey(pem);
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`sealing key must be RSA, got ${key.asymmetricKeyType}`);
  return key;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decrypts every value like the controller (label from the object's own name and namespace). */
export function unseal(secret: SealedSecret, privateKey: crypto.KeyObject): Record<string, Buffer> {
  const label = scopeLabel(secret.metadata);
  return Object.fromEntries(
    Object.entries(secret.spec.encryptedData).map(([key, value]) => {
      if (!BASE64.test(value)) throw new Error(`${key}: not standard base64`);
      return [key, hybridDecrypt(privateKey, Buffer.from(value, 'base64'), label)];
    }),
  );
}

export function emptySealedSecret(name: string, namespace: string): SealedSecret {
  return {
    apiVersion: API_VERSION,
    kind: 'SealedSecret',
    metadata: { name, namespace },
    spec: { encryptedData: {}, template: { metadata: { name, namespace }, type: 'Opaque' } },
  };
}

/** Adds (or replaces) one key, sealed for this object's scope; other keys are kept. */
export function sealInto(secret: SealedSecret, key: string, value: Buffer, publicKey: crypto.KeyObject): SealedSecret {
  const sealed = hybridEncrypt(publicKey, value, scopeLabel(secret.metadata)).toString('base64');
  const encryptedData = Object.fromEntries(
    Object.entries({ ...secret.spec.encryptedData, [key]: sealed }).sort(([a], [b]) => a.localeCompare(b)),
  );
  return { ...secret, spec: { ...secret.spec, encryptedData } };
}

const HEADER =
  '# SealedSecret: encrypted for one namespace/name with the environment certificate; safe to commit.\n# Written by `npm run seal`; see charts/README.md.\n';

export function toYaml(secret: SealedSecret): string {
  return HEADER + stringify(secret);
}

/** Parses and checks one committed file: exactly one strict-scope SealedSecret, nothing in plain text. */
export function parseSealedSecret(text: string, source: string, namespace: string): SealedSecret {
  const docs = parseAllDocuments(text).map((doc) => doc.toJS() as unknown);
  const fail = (problem: string): never => {
    throw new Error(`${source}: ${problem}`);
  };
  if (docs.length !== 1) fail('must hold exactly one document');
  const doc = docs[0] as Partial<SealedSecret> & { kind?: unknown; spec?: Record<string, unknown> };
  if (doc?.apiVersion !== API_VERSION || doc.kind !== 'SealedSecret')
    fail(`must be a ${API_VERSION} SealedSecret (plain Secrets never go to git)`);
  const secret = doc as SealedSecret;
  const { name } = secret.metadata ?? {};
  if (secret.metadata?.namespace !== namespace) fail(`metadata.namespace must be ${namespace}`);
  if (path.basename(source) !== `${name}.yaml`) fail(`file name must be ${name}.yaml`);
  if (scopeLabel(secret.metadata).toString() !== `${namespace}/${name}`) fail('must use the strict scope');
  if ('data' in secret.spec || 'stringData' in (secret.spec.template ?? {}) || 'data' in (secret.spec.template ?? {}))
    fail('must not carry unencrypted data');
  const values = Object.entries(secret.spec.encryptedData ?? {});
  if (!values.length) fail('spec.encryptedData is empty');
  for (const [key, value] of values) if (typeof value !== 'string' || !BASE64.test(value)) fail(`encryptedData.${key} is not base64`);
  return secret;
}

/** The committed SealedSecrets of one environment (`charts/secrets/<env>/*.yaml`), sorted by name. */
export function loadSealedSecrets(dir: string, namespace: string): SealedSecret[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
    .sort()
    .map((file) => parseSealedSecret(fs.readFileSync(path.join(dir, file), 'utf8'), path.join(dir, file), namespace));
}
