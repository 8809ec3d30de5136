// Types of the `peo` package (peo.js). The native addon's own types are the generated
// index.d.ts.

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/**
 * One record of an object's memory. The JSON forms (records, dispositions, reports,
 * proofs) have camelCase keys in this package; `canonical` gives the snake_case form
 * every other language writes (docs/json-forms.md). Payloads keep their keys.
 */
export interface Record {
  readonly seq: number
  readonly visit: number
  readonly action: 'genesis' | 'execute' | 'mutate' | 'delegate' | 'dormant' | 'reentry' | 'terminate' | 'checkpoint'
  readonly state: string
  readonly nextState: string
  readonly status: Status
  readonly node: { readonly id: string; readonly domain: string; readonly key: string | null }
  readonly timeMs: number
  readonly policy: { readonly decision: string; readonly policies: string[]; readonly errors: string[] } | null
  readonly advice: { readonly [key: string]: Json } | null
  readonly intentHash: string | null
  readonly contextHash: string | null
  readonly dataHash: string | null
  /** The variables' hash after this record, when it assigned some (format version 2). */
  readonly variablesHash: string | null
  /** The variables this record assigned, name to value. */
  readonly assigned: { readonly [name: string]: Json } | null
  readonly signed: boolean
  readonly body: { readonly [key: string]: Json }
}

export type Status = 'running' | 'dormant' | 'succeeded' | 'failed' | 'expired' | 'rejected'

/** Why a visit ended. */
export type Disposition =
  | { readonly kind: 'delegate'; readonly reason: string; readonly capability: string | null; readonly target: string | null }
  | {
      readonly kind: 'dormant'
      readonly reason: string
      readonly atMs: number | null
      readonly event: string | null
      readonly timeoutAtMs: number | null
    }
  | {
      readonly kind: 'terminated'
      readonly status: Status
      readonly output: Json
      readonly error: { readonly error: string; readonly cause: string | null } | null
    }

export interface VerifyReport {
  readonly valid: boolean
  readonly recordsChecked: number
  readonly signaturesChecked: number
  readonly signers: ReadonlyArray<{ readonly key: string; readonly trusted: boolean; readonly records: number[] }>
  readonly unsignedRecords: number
  readonly untrustedRecords: number
  readonly head: string
  /** The originator subject the verification vouches for (the claim, under trust 'any'). */
  readonly principal: string | null
  /** The domains vouched for by trusted signatures; null when claims are believed. */
  readonly domains: string[] | null
  /** Changes of context and intent replayed and found legal. */
  readonly changesChecked: number
  /** Records a compaction removed from the memory (attested by `checkpoint`). */
  readonly recordsPruned: number
  /** The checkpoint that stands for the pruned records (docs/long-lived.md). */
  readonly checkpoint: null | {
    readonly seq: number
    readonly pruned: number
    readonly node: string
    readonly domain: string
    readonly key: string | null
    readonly trusted: boolean
    readonly attests: string
  }
  /** Checkpoints recomputed from the records they fold. */
  readonly checkpointsAudited: number
  /** The first problem found: the object is valid only when this is null. */
  readonly broken: null | { readonly record: number; readonly kind: string; readonly code: string; readonly message: string }
}

export interface CreateOptions {
  /** `{labels, attributes, policies, ...}` */
  context?: object | string | null
  /** Any JSON value; `{}` when absent. */
  input?: Json
  /** 32 hex digits; derived from the content and the time when absent. */
  id?: string | null
  /** Creation time, ms since the Unix epoch; now when absent. */
  nowMs?: number | null
  /** Signs the genesis record. */
  key?: SigningKey | null
}

export class SigningKey {
  private constructor()
  static generate(): SigningKey
  static fromBytes(seed: Uint8Array): SigningKey
  /** The 32-byte seed (the secret). */
  toBytes(): Buffer
  /** The 32-byte public key. */
  publicKey(): Buffer
  /**
   * `event` signed by this key for object `objectId` (with `signer` and `signature`): an
   * `Await` state whose `Signers` name the key accepts it, for that object only.
   */
  signEvent(objectId: string, event: Event): Event
}

declare class PeoObject {
  private constructor()
  static create(intent: object | string, options?: CreateOptions): PeoObject
  static fromBytes(data: Uint8Array): PeoObject
  toBytes(): Buffer
  verify(options?: { trustedKeys?: Uint8Array[] }): VerifyReport
  /** Verifies the whole history, the pruned records put back from `archive`. */
  audit(archive: Uint8Array[], options?: { trustedKeys?: Uint8Array[] }): VerifyReport
  /** The proof that pruned record `seq` belongs to the history, made from the archive. */
  provePruned(archive: Uint8Array[], seq: number): PrunedProof
  /** Checks a pruned-record proof offline; throws IntegrityError naming `proof` when it does not hold. */
  checkPruned(proof: PrunedProof | string): void
  readonly id: string
  readonly status: Status
  readonly state: string
  readonly head: string
  readonly data: Json
  /** The workflow variables in force (`Assign`), name to value. */
  readonly variables: { readonly [name: string]: Json }
  readonly memory: ReadonlyArray<Record>
  readonly length: number
  toJSON(): { [key: string]: Json }
}
export { PeoObject as Object }

/** What a handler gets besides its input. */
export interface TaskContext {
  readonly capability: string
  readonly state: string
  /** `<object id>/<state>/<entry>/<attempt>`: the same wherever this attempt runs. */
  readonly idempotencyKey: string
  readonly attempt: number
  readonly deadlineMs: number | null
  /** Proposes a refinement of the intent (`{Objective?, Class?, Constraints?, States?, Goto?}`). */
  refine(refinement: object): void
}

export type Handler = (input: any, ctx: TaskContext) => Json | Promise<Json>

export interface Event {
  name: string
  payload?: Json
  error?: string
  cause?: string | null
  heartbeat?: boolean
  /** The public key (64 hex digits) that signed it (`SigningKey.signEvent`). */
  signer?: string
  /** Its Ed25519 signature (128 hex digits), for one object. */
  signature?: string
}

export interface Visit {
  readonly object: PeoObject
  /** What to pass on, park or store. */
  readonly bytes: Buffer
  readonly disposition: Disposition
  /** The records this visit appended. */
  readonly records: ReadonlyArray<Record>
  readonly appended: number
  /** Child objects created by Parallel / Map. */
  readonly children: Buffer[]
  /** The records this visit's compactions pruned, as archive segments. */
  readonly archive: Buffer[]
  /** camelCase throughout: the object by its summary (`object.toJSON()` is the dump). */
  toJSON(): {
    disposition: Disposition
    appended: number
    records: Record[]
    object: { id: string; status: Status; state: string; head: string; length: number }
  }
}

/** A key and what it may sign as ('*': anything). */
export interface TrustedKey {
  /** 64 hex digits. */
  key: string
  /** The node ids whose records it may sign. */
  nodes?: string[]
  /** The domain those records may claim ('*' when absent). */
  domain?: string
  /** The originator subjects it may create objects for. */
  subjects?: string[]
}

export interface TrustStore {
  require?: 'every_visit_trusted' | 'every_visit' | 'valid_if_present'
  keys?: TrustedKey[]
}

/** What an advisor proposes for the next cycle (the node checks it against the plan and policy). */
export interface Proposal {
  action: 'execute' | 'delegate' | 'terminate'
  /** The capability to execute or delegate to, or a node id. */
  target?: string | null
  /** From 0 to 1 (default 1). */
  confidence?: number | null
  rationale?: string | null
}

/** An advisor: a proposal for the object's next step, or null for none. Synchronous. */
export type Advisor = (object: PeoObject) => Proposal | null | undefined

export interface NodeOptions {
  id: string
  domain: string
  /** Cedar policies (text), validated against peo's schema. */
  policy?: string | null
  facts?: object | null
  key?: SigningKey | null
  /** 32-byte public keys: every visit must be signed by one of them (each may sign as anyone). */
  trustedKeys?: Uint8Array[] | null
  /** A trust store (or 'any', for tests and demos). Without it or `trustedKeys` the node accepts nothing. */
  trust?: 'any' | TrustStore | null
  /** A manual clock starting here (ms since the Unix epoch); the system clock when absent. */
  nowMs?: number | null
  /** A clock called at every reading (synchronous, ms since the Unix epoch); one that throws fails the visit. */
  clock?: (() => number) | null
  /** Consulted before every cycle (synchronously); its proposal is followed when valid and permitted, and recorded. */
  advisor?: Advisor | null
  /** The most cycles one visit runs (default 10,000); at the bound it ends dormant, reason 'budget', due now, its work kept. */
  maxCycles?: number
  /** Compacts objects whose plan sets no `Compaction` (docs/long-lived.md); `keep` defaults to 0. */
  compaction?: { after: number; keep?: number }
}

export class Node {
  constructor(options: NodeOptions)
  readonly id: string
  readonly domain: string
  readonly capabilities: string[]
  handle(capability: string, fn: Handler): this
  /** A manual clock at `nowMs`, a function called at every reading, or the system clock (null). */
  setClock(clock: number | (() => number) | null): void
  /** An advisor consulted before every cycle, or null to remove it. */
  setAdvisor(advisor: Advisor | null): void
  advanceClock(ms: number): void
  visit(obj: PeoObject | Uint8Array, options?: { event?: Event | null }): Promise<Visit>
  /** A child's final object, or a batch of them recorded by one record. */
  complete(parent: PeoObject | Uint8Array, child: PeoObject | Uint8Array | Array<PeoObject | Uint8Array>): Promise<Visit>
  /**
   * Runs the node as a service on a NATS JetStream mesh until `signal` aborts (or
   * `idleTimeout` ms without work, or `maxDeliveries`); resolves to the counters.
   * Rejects with a TransportError when the server cannot be reached at the start; a
   * server lost while serving is retried until it has been gone `giveUpAfter` ms.
   */
  serve(
    url: string,
    options?: ServeOptions & { ackWait?: number; security?: Security; maxDeliver?: number; replicas?: number },
  ): Promise<JetStreamStats>
}

/**
 * TLS and credentials of a JetStream connection (docs/security.md); paths are file names.
 * Not given: the `nats` tool's variables (NATS_CA, NATS_CERT, NATS_KEY, NATS_CREDS,
 * NATS_NKEY, NATS_USER, NATS_PASSWORD, NATS_TOKEN).
 */
export interface Security {
  /** PEM file of the CAs that signed the server's certificate (requires TLS). */
  ca?: string
  /** PEM file of this client's certificate (with `key`; requires TLS). */
  cert?: string
  key?: string
  /** Refuse a server without TLS. */
  tls?: boolean
  /** A NATS credentials file (user JWT and nkey seed). */
  creds?: string
  /** A file holding a user nkey seed (`SU...`). */
  nkey?: string
  user?: string
  password?: string
  token?: string
}

export interface ServeOptions {
  signal?: AbortSignal
  idleTimeout?: number
  maxDeliveries?: number
  /** Ms the server may stay unreachable while serving before the loop rejects (default: retry forever). */
  giveUpAfter?: number
  /**
   * Deliveries visited at once, 1 (the default) to 1024: their handlers' promises
   * overlap. A visit that throws something other than a PeoError (a broken clock or
   * advisor; a throwing handler fails its Task instead) ends the loop after the others
   * in flight.
   */
  window?: number
}

export interface JetStreamStats {
  received: number
  visits: number
  forwarded: number
  finished: number
  children: number
  duplicates: number
  reconciled: number
  declined: number
  rejected: number
  deferred: number
  superseded: number
  /** Events naming a task token other than the one the object waits for, or not signed by the awaited state's `Signers`: dropped. */
  ignored: number
}

/** A connection to a NATS JetStream mesh (`nats-server -js`). */
export class JetStream {
  private constructor(native: unknown)
  /**
   * `maxDeliver`: deliveries of one message of work, never settled, before it is
   * dead-lettered to `peo.dead.<id>` (default 50, 0 for no limit). `replicas`: on a
   * JetStream cluster, the servers that keep each of peo's streams and its bucket when
   * this connection creates them (1 to 5, default 1; 3 survives a server's loss).
   */
  static connect(
    url: string,
    options?: { ackWait?: number; name?: string; security?: Security; maxDeliver?: number; replicas?: number },
  ): Promise<JetStream>
  submit(obj: PeoObject | Uint8Array): Promise<string>
  sendEvent(objectId: string, event: Event): Promise<void>
  get(objectId: string): Promise<PeoObject | null>
  wait(ids: string[], options?: { timeout?: number }): Promise<{ [id: string]: PeoObject }>
  serve(node: Node, options?: ServeOptions): Promise<JetStreamStats>
  /** The records compactions pruned from an object, as the mesh keeps them: pass them to `obj.audit(archive)`. */
  archive(objectId: string): Promise<Buffer[]>
  stats(): JetStreamStats
}

export class TaskFailed extends Error {
  constructor(error: string, cause?: string | null)
  readonly error: string
  readonly cause: string | null
}

/**
 * Thrown by a Lambda handler for an object that ended without succeeding: `name` is the
 * object's error name (`Order.Invalid`, `States.Timeout`, `peo.Policy`).
 */
export class ObjectFailed extends Error {
  constructor(error: string, cause: string)
  readonly error: string
}

/** Where S3 keeps an object too large to pass through a workflow inline. */
export interface LambdaPointer {
  readonly bucket: string
  /** `peo/<id>/<head>.peo` */
  readonly key: string
  readonly id: string
  readonly head: string
  readonly size: number
}

/** What a peo Lambda returns (docs/step-functions.md). */
export interface LambdaReply {
  readonly id: string
  readonly status: 'running' | 'dormant' | 'succeeded' | 'failed' | 'expired' | 'rejected'
  readonly state: string
  readonly head: string
  readonly records: number
  readonly output?: unknown
  readonly error?: string
  readonly cause?: string
  readonly disposition?: Disposition
  /** The object's bytes in base64, or `pointer` when they are past 256 KiB. */
  readonly object?: string
  readonly pointer?: LambdaPointer
}

export interface LambdaHandlerOptions {
  /** Where an object created with a `taskToken` goes after the visit (required for such payloads). */
  mesh?: JetStream | null
  /** The S3 bucket for objects past 256 KiB (default `$PEO_S3_BUCKET`). */
  bucket?: string | null
  /** An `S3Client` of `@aws-sdk/client-s3` (default `new S3Client({})`). */
  s3?: unknown
}

/**
 * A Lambda handler that visits objects at `node`: the payload holds `object` (base64),
 * `pointer` or `intent` (with `input`, `context`, `id`, and `taskToken` for a
 * `.waitForTaskToken` Task); a `lambda:invoke` result passes on as it is.
 */
export function lambdaHandler(node: Node, options?: LambdaHandlerOptions): (event: unknown, context?: unknown) => Promise<LambdaReply>

export type ErrorCode =
  | 'PEO_DECODE'
  | 'PEO_INTEGRITY'
  | 'PEO_SIGNATURE'
  | 'PEO_UNSUPPORTED'
  | 'PEO_LIMIT'
  | 'PEO_INVALID_INTENT'
  | 'PEO_INVALID_ARGUMENT'
  | 'PEO_POLICY'
  | 'PEO_TERMINATED'
  | 'PEO_INTERNAL'
  | 'PEO_TRANSPORT'

export class PeoError extends Error {
  readonly code: ErrorCode
  readonly kind: string
  readonly record: number | null
  readonly state: string | null
  readonly field: string | null
}
export class DecodeError extends PeoError {}
export class IntegrityError extends PeoError {}
export class SignatureError extends PeoError {}
export class UnsupportedError extends PeoError {}
export class LimitError extends PeoError {}
export class InvalidIntentError extends PeoError {}
export class InvalidArgumentError extends PeoError {}
export class PolicyError extends PeoError {}
export class TerminatedError extends PeoError {}
export class InternalError extends PeoError {}
export class TransportError extends PeoError {}

export const HANDLER_INVALID_OUTPUT: string
/** A pruned record's inclusion proof: its hash and its RFC 6962 audit path, leaf first. */
export interface PrunedProof {
  readonly index: number
  readonly recordHash: string
  readonly path: readonly string[]
}

/** The names of the JSON forms `canonical` converts (schema/forms.schema.json's `$defs`). */
export type FormName = 'Record' | 'Disposition' | 'VerifyReport' | 'PrunedProof' | 'Event' | 'Proposal' | 'TaskCall' | 'Error'

/**
 * A form this package returns (or an array of them) as every other language writes it:
 * its declared keys in snake_case (`nextState` -> `next_state`), payloads untouched. For
 * sending a record, disposition or report to a service in another language.
 */
export function canonical(form: FormName, value: Json | object): Json

export const version: string
/** The wire format version this library writes (it reads every earlier one too). */
export const wireFormatVersion: number
