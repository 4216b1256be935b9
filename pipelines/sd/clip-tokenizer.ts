/**
 * CLIP's byte-level BPE tokenizer, as Stable Diffusion's `tokenizer/` folder describes it.
 * Behaves like transformers' CLIPTokenizer without ftfy (reference/sd-onnx-layout.md §6):
 *
 *   const tok = await ClipTokenizer.load("models/sd15/tokenizer");
 *   tok.encode("a photo of a cat");  // Int32Array(77) [49406, 320, 1125, 539, 320, 2368, 49407, 49407, …]
 *
 * Not replicated: SD 2.x's habit of splitting a literal "!" out as its pad token (diffusers #4153),
 * ftfy's mojibake repair and HTML unescaping.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ModelError, UsageError } from "../errors.ts";

export const START_TOKEN = "<|startoftext|>";
export const END_TOKEN = "<|endoftext|>";
export const END_OF_WORD = "</w>";
/** Length of every encoded row unless the tokenizer config says otherwise. */
export const CLIP_MAX_LENGTH = 77;
/** HF's CLIPTokenizer reads only this many lines of merges.txt (49152 − 256 bytes − 2 specials). */
const MAX_MERGES_TXT = 49152 - 256 - 2;

const PRE_TOKEN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;
const WORD_CACHE_LIMIT = 20000;

/**
 * The 256 byte symbols in vocabulary order: printable Latin-1 bytes stand for themselves, the other
 * bytes get the code points 256, 257, … so that no symbol is whitespace or a control character.
 */
function buildByteTables(): { order: string[]; ofByte: string[] } {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const ofByte = new Array<string>(256);
  const order: string[] = [];
  for (const b of printable) {
    const symbol = String.fromCodePoint(b);
    ofByte[b] = symbol;
    order.push(symbol);
  }
  let next = 256;
  for (let b = 0; b < 256; b++) {
    if (ofByte[b] !== undefined) continue;
    const symbol = String.fromCodePoint(next++);
    ofByte[b] = symbol;
    order.push(symbol);
  }
  return { order, ofByte };
}

const BYTES = buildByteTables();
const BYTE_OF_SYMBOL = new Map(BYTES.ofByte.map((s, b) => [s, b] as const));
const UTF8 = new TextEncoder();
const UTF8_LENIENT = new TextDecoder("utf-8", { fatal: false });

/** The 256 byte-level symbols in CLIP vocabulary order (id 0 = "!", id 64 = "a"). */
export function byteLevelSymbols(): string[] {
  return BYTES.order.slice();
}

/** Spells a piece of text's UTF-8 bytes with byte-level symbols. */
export function toByteLevel(piece: string): string {
  let out = "";
  for (const b of UTF8.encode(piece)) out += BYTES.ofByte[b];
  return out;
}

/**
 * The cleanup CLIPTokenizer does before splitting: NFC, control characters dropped (tab and
 * newline count as spaces), whitespace runs collapsed to one space, trimmed, lower-cased.
 */
export function cleanText(text: string): string {
  return text
    .normalize("NFC")
    .replace(/[\p{C}\uFFFD]/gu, (c) => (c === "\t" || c === "\n" || c === "\r" ? " " : ""))
    .replace(/\s+/gu, " ")
    .trim()
    .toLowerCase();
}

/** Splits cleaned text into the pieces BPE works on (letters group, digits stand alone). */
export function preTokenize(cleaned: string): string[] {
  return cleaned.match(PRE_TOKEN) ?? [];
}

/** Merges as merges.txt lines ("a b") or tokenizer.json pairs (["a", "b"]). */
export type ClipMerge = string | readonly [string, string];

export interface ClipTokenizerData {
  vocab: Readonly<Record<string, number>>;
  merges: readonly ClipMerge[];
  /** Row length after padding; default 77. */
  maxLength?: number;
  /** Defaults: "<|startoftext|>", "<|endoftext|>", and the end token for unk and pad. */
  bosToken?: string;
  eosToken?: string;
  unkToken?: string;
  padToken?: string;
}

/** Where each part came from, so errors name the file at fault. */
interface Sources {
  vocab: string;
  merges: string;
  config: string;
}

const DATA_SOURCES: Sources = { vocab: "vocab", merges: "merges", config: "tokenizer options" };

export class ClipTokenizer {
  readonly maxLength: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  readonly padId: number;
  private readonly ids: Map<string, number>;
  private readonly tokens: Map<number, string>;
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, string[]>();

  private constructor(data: ClipTokenizerData, from: Sources) {
    this.ids = readVocab(data.vocab, from.vocab);
    this.tokens = new Map();
    for (const [token, id] of this.ids) this.tokens.set(id, token);
    this.ranks = new Map();
    data.merges.forEach((merge, rank) => {
      const [a, b] = splitMerge(merge, rank, from.merges);
      const key = a + " " + b;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
    const maxLength = data.maxLength ?? CLIP_MAX_LENGTH;
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new ModelError(`${from.config}: model_max_length ${maxLength} is not an integer ≥ 2`);
    }
    this.maxLength = maxLength;
    const idOf = (token: string, role: string): number => {
      const id = this.ids.get(token);
      if (id === undefined) {
        throw new ModelError(`${from.config}: ${role} ${JSON.stringify(token)} is not in ${from.vocab}`);
      }
      return id;
    };
    const eos = data.eosToken ?? END_TOKEN;
    this.bosId = idOf(data.bosToken ?? START_TOKEN, "bos_token");
    this.eosId = idOf(eos, "eos_token");
    this.unkId = idOf(data.unkToken ?? eos, "unk_token");
    this.padId = idOf(data.padToken ?? eos, "pad_token");
  }

  /** Builds a tokenizer from in-memory vocab and merges (no "#version" line in merges). */
  static fromData(data: ClipTokenizerData): ClipTokenizer {
    return new ClipTokenizer(data, DATA_SOURCES);
  }

  /**
   * Loads a `tokenizer/` folder: tokenizer.json when present, else vocab.json + merges.txt;
   * tokenizer_config.json and special_tokens_map.json (both optional) give max length and specials.
   */
  static async load(dir: string): Promise<ClipTokenizer> {
    const configPath = join(dir, "tokenizer_config.json");
    const mapPath = join(dir, "special_tokens_map.json");
    const config = asObject(await readJson(configPath, false), configPath);
    const specials = asObject(await readJson(mapPath, false), mapPath);
    // As in transformers, special_tokens_map.json wins over tokenizer_config.json.
    const settings = { ...config, ...specials };
    const configName = [config && configPath, specials && mapPath].filter(Boolean).join(" / ") || `${dir} defaults`;

    const jsonPath = join(dir, "tokenizer.json");
    const whole = asObject(await readJson(jsonPath, false), jsonPath);
    let data: ClipTokenizerData;
    let from: Sources;
    if (whole) {
      const model = asObject(whole.model, jsonPath);
      const vocab = model ? asObject(model.vocab, jsonPath) : undefined;
      if (!model || !vocab || !Array.isArray(model.merges)) {
        throw new ModelError(`${jsonPath} has no model.vocab object and model.merges list`);
      }
      const withAdded: Record<string, unknown> = { ...vocab };
      for (const added of Array.isArray(whole.added_tokens) ? whole.added_tokens : []) {
        if (typeof added?.content === "string" && !Object.hasOwn(withAdded, added.content)) {
          withAdded[added.content] = added.id;
        }
      }
      data = { vocab: withAdded as Record<string, number>, merges: model.merges };
      from = { vocab: jsonPath, merges: jsonPath, config: configName };
    } else {
      const vocabPath = join(dir, "vocab.json");
      const mergesPath = join(dir, "merges.txt");
      const vocab = asObject(await readJson(vocabPath, true), vocabPath);
      if (!vocab) throw new ModelError(`${vocabPath} is not a JSON object of token → id`);
      data = { vocab: vocab as Record<string, number>, merges: readMergesTxt(await readText(mergesPath, true)) };
      from = { vocab: vocabPath, merges: mergesPath, config: configName };
    }

    const maxLength = settings.model_max_length;
    // Tokenizers without a known limit store a huge sentinel (1e30); CLIP's text encoder has 77 positions.
    if (typeof maxLength === "number" && maxLength <= 1_000_000) data.maxLength = maxLength;
    data.bosToken = tokenName(settings.bos_token, "bos_token", configName);
    data.eosToken = tokenName(settings.eos_token, "eos_token", configName);
    data.unkToken = tokenName(settings.unk_token, "unk_token", configName);
    data.padToken = tokenName(settings.pad_token, "pad_token", configName);
    return new ClipTokenizer(data, from);
  }

  get vocabSize(): number {
    return this.ids.size;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens.get(id);
  }

  /** BPE tokens of the text, without start/end tokens; for debugging. */
  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const piece of preTokenize(cleanText(text))) {
      if (piece === START_TOKEN || piece === END_TOKEN) out.push(piece);
      else out.push(...this.bpe(toByteLevel(piece)));
    }
    return out;
  }

  /** Ids of the text's tokens, without start/end, untruncated (its length tells if a prompt fits). */
  contentIds(text: string): number[] {
    return this.tokenize(text).map((t) => this.ids.get(t) ?? this.unkId);
  }

  /** One text-encoder row: start, at most maxLength−2 content ids, end, padding. */
  encode(text: string): Int32Array {
    const content = this.contentIds(text).slice(0, this.maxLength - 2);
    const row = new Int32Array(this.maxLength).fill(this.padId);
    row[0] = this.bosId;
    row.set(content, 1);
    row[content.length + 1] = this.eosId;
    return row;
  }

  /** `encode` for text encoders whose input_ids are int64. */
  encodeBigInt64(text: string): BigInt64Array {
    return BigInt64Array.from(this.encode(text), (id) => BigInt(id));
  }

  /**
   * Text of an id row: the start token is skipped and decoding stops at the first end token, so
   * padding ("!" in SD 2.x) never leaks in. Each `</w>` becomes a space, so "4k" comes back "4 k".
   */
  decode(ids: ArrayLike<number | bigint>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = Number(ids[i]);
      if (id === this.bosId && i === 0) continue;
      if (id === this.eosId) break;
      const token = this.tokens.get(id);
      if (token === undefined) {
        throw new UsageError(`token id ${id} is not in the vocabulary (${this.ids.size} entries)`);
      }
      if (token === START_TOKEN || token === END_TOKEN) continue;
      const word = token.endsWith(END_OF_WORD) ? token.slice(0, -END_OF_WORD.length) : token;
      for (const symbol of word) {
        const b = BYTE_OF_SYMBOL.get(symbol);
        if (b !== undefined) bytes.push(b);
      }
      if (word !== token) bytes.push(0x20);
    }
    return UTF8_LENIENT.decode(new Uint8Array(bytes)).trim();
  }

  /** Byte-level word → BPE tokens, merging the lowest-ranked adjacent pair until none is known. */
  private bpe(word: string): string[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    let parts = Array.from(word);
    parts[parts.length - 1] += END_OF_WORD;
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rank = this.ranks.get(parts[i] + " " + parts[i + 1]);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const first = parts[best]!;
      const second = parts[best + 1]!;
      // Every occurrence of the pair merges, left to right, without overlap.
      const merged: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (parts[i] === first && parts[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(parts[i]!);
        }
      }
      parts = merged;
    }
    if (this.cache.size >= WORD_CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, parts);
    return parts;
  }
}

function readVocab(vocab: Readonly<Record<string, number>>, source: string): Map<string, number> {
  const ids = new Map<string, number>();
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || id < 0) {
      throw new ModelError(`${source}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not an integer ≥ 0`);
    }
    ids.set(token, id);
  }
  if (ids.size === 0) throw new ModelError(`${source} holds no tokens`);
  return ids;
}

function splitMerge(merge: ClipMerge, rank: number, source: string): [string, string] {
  if (typeof merge === "string") {
    const parts = merge.split(" ");
    if (parts.length === 2 && parts[0] && parts[1]) return [parts[0], parts[1]];
  } else if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === "string" && typeof merge[1] === "string") {
    return [merge[0], merge[1]];
  }
  throw new ModelError(`${source}: merge ${rank + 1} is ${JSON.stringify(merge)}, expected two symbols "a b"`);
}

/** merges.txt lines after the "#version" header, as HF reads them. */
function readMergesTxt(text: string): string[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  if (lines[0]?.startsWith("#version")) lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.slice(0, MAX_MERGES_TXT);
}

/** A special token given as "text" or as an AddedToken object { content: "text", … }. */
function tokenName(value: unknown, key: string, source: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  const content = (value as { content?: unknown }).content;
  if (typeof value === "object" && typeof content === "string") return content;
  throw new ModelError(`${source}: ${key} is ${JSON.stringify(value)}, expected a string or { "content": string }`);
}

function asObject(value: unknown, source: string): Record<string, any> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ModelError(`${source} is not a JSON object`);
  }
  return value as Record<string, any>;
}

async function readText(path: string, required: true): Promise<string>;
async function readText(path: string, required: boolean): Promise<string | undefined>;
async function readText(path: string, required: boolean): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && code === "ENOENT") return undefined;
    const why = code === "ENOENT" ? "is missing" : `cannot be read (${code ?? String(err)})`;
    throw new ModelError(`tokenizer file ${path} ${why}`, "a CLIP tokenizer folder holds vocab.json and merges.txt (or tokenizer.json)");
  }
}

async function readJson(path: string, required: boolean): Promise<unknown> {
  const text = await readText(path, required);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelError(`tokenizer file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}
