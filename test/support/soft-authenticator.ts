import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * A software WebAuthn authenticator for HTTP-level tests: ES256 keys from Node's crypto, "none"
 * attestation, and every field an attacker could control (origin, counter, flags, userHandle) settable,
 * so the server's checks can be exercised one by one. Real-browser behaviour is covered separately
 * with Chromium's virtual authenticator.
 */
const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

// --- a minimal CBOR encoder: enough for attestation objects and COSE keys ---
function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}
type Cbor = number | string | Uint8Array | Map<number | string, Cbor>;
function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  const parts = [head(5, value.size)];
  for (const [k, v] of value) parts.push(cbor(k), cbor(v));
  return Buffer.concat(parts);
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

export interface CreationOptionsJSON {
  challenge: string;
  rp: { id?: string; name: string };
  user: { id: string; name: string; displayName: string };
  authenticatorSelection?: { userVerification?: string; residentKey?: string };
}

export interface RequestOptionsJSON {
  challenge: string;
  rpId?: string;
  allowCredentials?: { id: string }[];
  userVerification?: string;
}

export interface SoftCredentialOptions {
  /** backup eligible (a synced passkey) */
  backupEligible?: boolean;
  /** user verification performed (a passkey); false: a plain security key */
  userVerified?: boolean;
  /** initial signature counter (0 = the authenticator keeps no counter) */
  counter?: number;
}

export class SoftCredential {
  readonly id = randomBytes(16);
  private readonly key: KeyObject;
  readonly publicJwk: { x: string; y: string };
  counter: number;
  backupEligible: boolean;
  backupState: boolean;
  userVerified: boolean;
  userHandle?: string;
  readonly aaguid = Buffer.alloc(16);

  constructor(readonly rpId: string, readonly origin: string, options: SoftCredentialOptions = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = privateKey;
    const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    this.publicJwk = { x: jwk.x, y: jwk.y };
    this.counter = options.counter ?? 0;
    this.backupEligible = options.backupEligible ?? false;
    this.backupState = this.backupEligible;
    this.userVerified = options.userVerified ?? true;
  }

  /** The COSE_Key of the public key, as a registration carries it (and the server stores it). */
  get cosePublicKey(): Buffer {
    return cbor(
      new Map<number, Cbor>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(this.publicJwk.x, 'base64url')],
        [-3, Buffer.from(this.publicJwk.y, 'base64url')],
      ]),
    );
  }

  get idB64(): string {
    return b64url(this.id);
  }

  private flags(extra: number): number {
    return FLAG_UP | (this.userVerified ? FLAG_UV : 0) | (this.backupEligible ? FLAG_BE : 0) | (this.backupState ? FLAG_BS : 0) | extra;
  }

  private authData(flags: number, attested?: Buffer): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(this.counter >>> 0);
    return Buffer.concat([sha256(this.rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  }

  private clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** navigator.credentials.create(), answered as @simplewebauthn/browser would post it. */
  register(options: CreationOptionsJSON, overrides: { origin?: string } = {}) {
    this.userHandle = options.user.id;
    const cose = this.cosePublicKey;
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.id.length);
    const attested = Buffer.concat([this.aaguid, idLength, this.id, cose]);
    const authData = this.authData(this.flags(FLAG_AT), attested);
    const attestationObject = cbor(new Map<string, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    return {
      id: this.idB64,
      rawId: this.idB64,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge, overrides.origin ?? this.origin)),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /**
   * navigator.credentials.get(). The counter goes up by one per assertion unless `counter` is given;
   * `userHandle: null` leaves it out (as a security key may).
   */
  assert(options: RequestOptionsJSON, overrides: { origin?: string; counter?: number; userHandle?: string | null; backupEligible?: boolean } = {}) {
    if (overrides.counter !== undefined) this.counter = overrides.counter;
    else if (this.counter > 0) this.counter += 1;
    const be = overrides.backupEligible ?? this.backupEligible;
    const flags = FLAG_UP | (this.userVerified ? FLAG_UV : 0) | (be ? FLAG_BE : 0) | (be && this.backupState ? FLAG_BS : 0);
    const authData = this.authData(flags);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, overrides.origin ?? this.origin);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.key);
    const userHandle = overrides.userHandle === null ? undefined : (overrides.userHandle ?? this.userHandle);
    return {
      id: this.idB64,
      rawId: this.idB64,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle !== undefined ? { userHandle } : {}),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}
