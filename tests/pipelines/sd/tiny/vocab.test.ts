import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ClipTokenizer,
  byteLevelSymbols,
  cleanText,
  preTokenize,
  toByteLevel,
} from "../../../../pipelines/sd/clip-tokenizer.ts";
import {
  TINY_VOCAB_SIZE,
  TINY_VOCAB_WORDS,
  buildTinyVocab,
  writeTinyTokenizerFolder,
} from "../../../../pipelines/sd/tiny/vocab.ts";

const built = buildTinyVocab();
const tok = ClipTokenizer.fromData(built);

function tempDir(): { path: string } & Disposable {
  const path = mkdtempSync(join(tmpdir(), "latentloom-tiny-vocab-"));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Plain BPE training, the slow way: recount every pair after every merge, take the most frequent
 * (ties alphabetical on the two symbols), skip pairs whose merged string is already a token.
 */
function referenceMerges(text: string): string[] {
  const counts = new Map<string, number>();
  for (const piece of preTokenize(cleanText(text))) {
    const word = toByteLevel(piece);
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const words = [...counts].map(([word, count]) => {
    const symbols = Array.from(word);
    symbols[symbols.length - 1] += "</w>";
    return { symbols, count };
  });
  const known = new Set(byteLevelSymbols().flatMap((s) => [s, s + "</w>"]));
  const merges: string[] = [];
  for (;;) {
    const pairs = new Map<string, { a: string; b: string; n: number }>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const [a, b] = [symbols[i]!, symbols[i + 1]!];
        const entry = pairs.get(a + " " + b) ?? { a, b, n: 0 };
        entry.n += count;
        pairs.set(a + " " + b, entry);
      }
    }
    let best: { a: string; b: string; n: number } | undefined;
    for (const p of pairs.values()) {
      if (known.has(p.a + p.b)) continue;
      if (!best || p.n > best.n || (p.n === best.n && (p.a < best.a || (p.a === best.a && p.b < best.b)))) best = p;
    }
    if (!best) return merges;
    const { a, b } = best;
    for (const word of words) {
      const next: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (word.symbols[i] === a && word.symbols[i + 1] === b) next.push(a + b), i++;
        else next.push(word.symbols[i]!);
      }
      word.symbols = next;
    }
    known.add(a + b);
    merges.push(a + " " + b);
  }
}

describe("buildTinyVocab", () => {
  test("gives the same vocabulary on every build", () => {
    expect(buildTinyVocab()).toEqual(built);
  });
  test("learns the same merges as a plain recount-everything BPE trainer", () => {
    expect(built.merges).toEqual(referenceMerges(TINY_VOCAB_WORDS));
  });
  test(`holds ${TINY_VOCAB_SIZE} entries with ids 0 … ${TINY_VOCAB_SIZE - 1}, each once`, () => {
    const ids = Object.values(built.vocab).sort((x, y) => x - y);
    expect(ids).toEqual(Array.from({ length: TINY_VOCAB_SIZE }, (_, i) => i));
    expect(built.merges.length).toBe(TINY_VOCAB_SIZE - 512 - 2);
  });
  test("starts like CLIP's vocab: 256 byte symbols, then the same with </w>", () => {
    const symbols = byteLevelSymbols();
    symbols.forEach((s, i) => {
      expect(built.vocab[s]).toBe(i);
      expect(built.vocab[s + "</w>"]).toBe(256 + i);
    });
    // Fixed points of the real CLIP layout (reference/sd-onnx-layout.md §6).
    expect([built.vocab["!"], built.vocab["a"], built.vocab["!</w>"], built.vocab["a</w>"], built.vocab["1</w>"]]).toEqual([
      0, 64, 256, 320, 272,
    ]);
  });
  test("gives each merge's result the id 512 + its rank, made of tokens that came before", () => {
    built.merges.forEach((merge, rank) => {
      const [a, b, extra] = merge.split(" ");
      expect(extra).toBeUndefined();
      expect(built.vocab[a! + b!]).toBe(512 + rank);
      expect(built.vocab[a!]).toBeLessThan(512 + rank);
      expect(built.vocab[b!]).toBeLessThan(512 + rank);
      expect(a!.includes("</w>")).toBe(false);
    });
  });
  test("puts <|startoftext|> and <|endoftext|> last", () => {
    expect(built.vocab["<|startoftext|>"]).toBe(TINY_VOCAB_SIZE - 2);
    expect(built.vocab["<|endoftext|>"]).toBe(TINY_VOCAB_SIZE - 1);
  });
  test("makes every word of its training list a single token", () => {
    const words = [...new Set(preTokenize(cleanText(TINY_VOCAB_WORDS)))];
    expect(words.length).toBeGreaterThan(1000);
    expect(words.filter((w) => tok.tokenize(w).length !== 1)).toEqual([]);
    expect(tok.tokenize("photo fox snow watercolor dragon")).toEqual([
      "photo</w>",
      "fox</w>",
      "snow</w>",
      "watercolor</w>",
      "dragon</w>",
    ]);
  });
});

describe("a tokenizer on the tiny vocabulary", () => {
  const cases: [string, string][] = [
    ["a photo of a red fox in the snow, 4k", "a photo of a red fox in the snow , 4 k"],
    [
      "A beautiful landscape painting of mountains at sunset, trending on artstation",
      "a beautiful landscape painting of mountains at sunset , trending on artstation",
    ],
    ["Cyberpunk  city street at NIGHT, neon lights, rain", "cyberpunk city street at night , neon lights , rain"],
    ["portrait of an old wizard, oil on canvas, by Rembrandt", "portrait of an old wizard , oil on canvas , by rembrandt"],
    ["Zürich's café at dusk, 35mm", "zürich 's café at dusk , 3 5 mm"],
  ];
  for (const [prompt, spaced] of cases) {
    test(`decodes "${prompt}" back to the lower-cased text, a space after each word`, () => {
      const ids = tok.encode(prompt);
      expect(ids[0]).toBe(TINY_VOCAB_SIZE - 2);
      expect(Math.max(...ids)).toBeLessThan(TINY_VOCAB_SIZE);
      expect(tok.decode(ids)).toBe(spaced);
      expect(tok.decode(ids).replaceAll(" ", "")).toBe(prompt.toLowerCase().replace(/\s+/g, ""));
    });
  }
  test("never needs the unk token, since every byte has a symbol", () => {
    const ids = tok.contentIds("日本の猫 🦊 naïve ~`|");
    expect(ids.includes(tok.unkId)).toBe(false);
    expect(tok.decode(tok.encode("日本の猫 🦊 naïve ~`|"))).toBe("日本の猫 🦊 naïve ~`|");
  });
});

describe("writeTinyTokenizerFolder", () => {
  test("writes a folder that loads into the same tokenizer", async () => {
    using dir = tempDir();
    await writeTinyTokenizerFolder(dir.path);
    const loaded = await ClipTokenizer.load(dir.path);
    for (const [prompt] of [["a photo of a red fox in the snow, 4k"], ["Zürich's café, 35mm!"]] as const) {
      expect([...loaded.encode(prompt)]).toEqual([...tok.encode(prompt)]);
    }
    expect([loaded.maxLength, loaded.padId, loaded.eosId]).toEqual([77, TINY_VOCAB_SIZE - 1, TINY_VOCAB_SIZE - 1]);
  });
  test("writes merges.txt with the #version header, vocab.json sorted by key", async () => {
    using dir = tempDir();
    await writeTinyTokenizerFolder(dir.path);
    const merges = readFileSync(join(dir.path, "merges.txt"), "utf8").split("\n");
    expect(merges[0]).toBe("#version: 0.2");
    expect(merges.slice(1, -1)).toEqual(built.merges);
    const vocabText = readFileSync(join(dir.path, "vocab.json"), "utf8");
    expect(JSON.parse(vocabText)).toEqual(built.vocab);
    const keys = [...vocabText.matchAll(/^ {2}("(?:[^"\\]|\\.)*"): \d+,?$/gm)].map((m) => JSON.parse(m[1]!) as string);
    expect(keys.length).toBe(TINY_VOCAB_SIZE);
    expect(keys.slice(0, 3)).toEqual(["!", "!</w>", '"']);
    expect(keys.every((k, i) => i === 0 || keys[i - 1]! < k)).toBe(true);
  });
  test("writes the config files of an SD 1.x export", async () => {
    using dir = tempDir();
    await writeTinyTokenizerFolder(dir.path);
    const config = JSON.parse(readFileSync(join(dir.path, "tokenizer_config.json"), "utf8"));
    expect(config).toMatchObject({
      model_max_length: 77,
      do_lower_case: true,
      tokenizer_class: "CLIPTokenizer",
      pad_token: "<|endoftext|>",
      bos_token: { content: "<|startoftext|>" },
      eos_token: { content: "<|endoftext|>" },
    });
    const specials = JSON.parse(readFileSync(join(dir.path, "special_tokens_map.json"), "utf8"));
    expect(specials).toMatchObject({ pad_token: "<|endoftext|>", unk_token: { content: "<|endoftext|>" } });
  });
  test("can pad with ! like SD 2.x", async () => {
    using dir = tempDir();
    await writeTinyTokenizerFolder(dir.path, { padToken: "!" });
    const loaded = await ClipTokenizer.load(dir.path);
    expect(loaded.padId).toBe(0);
    expect(loaded.encode("a cat")[76]).toBe(0);
  });
});
