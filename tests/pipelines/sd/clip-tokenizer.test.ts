import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelError, UsageError } from "../../../pipelines/errors.ts";
import { ClipTokenizer, byteLevelSymbols, toByteLevel } from "../../../pipelines/sd/clip-tokenizer.ts";

/*
 * A hand-made vocabulary: CLIP's 512 byte symbols, then 20 merges (ids 512 … 531), then the start
 * (532) and end (533) tokens. For printable ASCII the CLIP layout gives id = byte − 33, and + 256
 * for the `</w>` form (reference/sd-onnx-layout.md §6: "a"=64, "a</w>"=320, ",</w>"=267, "!</w>"=256),
 * so every expected id below is worked out by hand from the merge list.
 */
const MERGES = [
  "h e", //      512 he
  "l l", //      513 ll
  "l o</w>", //  514 lo</w>
  "he ll", //    515 hell
  "hell o</w>", // 516 hello</w>
  "c a", //      517 ca
  "ca t</w>", // 518 cat</w>
  "p h", //      519 ph
  "o t", //      520 ot
  "ph ot", //    521 phot
  "phot o</w>", // 522 photo</w>
  "o f</w>", //  523 of</w>
  "d o", //      524 do
  "do n</w>", // 525 don</w>
  "' t</w>", //  526 't</w>
  "ca t", //     527 cat
  "cat s</w>", // 528 cats</w>
  "r e", //      529 re
  "re d</w>", // 530 red</w>
  "a a", //      531 aa
];
const BOS = 532;
const EOS = 533;

function handVocab(): Record<string, number> {
  const vocab: Record<string, number> = {};
  byteLevelSymbols().forEach((s, i) => {
    vocab[s] = i;
    vocab[s + "</w>"] = 256 + i;
  });
  MERGES.forEach((m, i) => (vocab[m.replace(" ", "")] = 512 + i));
  vocab["<|startoftext|>"] = BOS;
  vocab["<|endoftext|>"] = EOS;
  return vocab;
}

const tok = ClipTokenizer.fromData({ vocab: handVocab(), merges: MERGES });
const row = (content: number[], pad = EOS, length = 77) => [
  BOS,
  ...content,
  EOS,
  ...new Array<number>(length - content.length - 2).fill(pad),
];

function tempDir(): { path: string } & Disposable {
  const path = mkdtempSync(join(tmpdir(), "latentloom-clip-"));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

function writeFolder(dir: string, files: Record<string, unknown>): void {
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof body === "string" ? body : JSON.stringify(body));
  }
}

describe("the byte-level alphabet", () => {
  const symbols = byteLevelSymbols();
  test("lists printable bytes first, as themselves, in CLIP id order", () => {
    expect(symbols.length).toBe(256);
    expect(new Set(symbols).size).toBe(256);
    for (let b = 0x21; b <= 0x7e; b++) expect(symbols[b - 33]).toBe(String.fromCharCode(b));
    for (let b = 0xa1; b <= 0xac; b++) expect(symbols[b - 0xa1 + 94]).toBe(String.fromCharCode(b));
    for (let b = 0xae; b <= 0xff; b++) expect(symbols[b - 0xae + 106]).toBe(String.fromCharCode(b));
  });
  test("gives the other bytes code points 256 and up, so a space is Ġ at id 220", () => {
    for (let b = 0; b <= 0x20; b++) expect(symbols[188 + b]).toBe(String.fromCodePoint(256 + b));
    expect(symbols[220]).toBe("Ġ");
    expect(toByteLevel("a b")).toBe("aĠb");
  });
  test("spells UTF-8 bytes, so é (C3 A9) is Ã©", () => {
    expect(toByteLevel("é")).toBe("Ã©");
    expect(symbols.indexOf("Ã")).toBe(127);
    expect(symbols.indexOf("©")).toBe(102);
  });
});

describe("ClipTokenizer", () => {
  describe("given a hand-made vocabulary of 20 merges", () => {
    test("merges the lowest-ranked pair first, down to whole words", () => {
      expect(tok.tokenize("a photo of a cat")).toEqual(["a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>"]);
      expect(tok.contentIds("a photo of a cat")).toEqual([320, 522, 523, 320, 518]);
    });
    test("lets an earlier merge win: he+ll beats l+o</w> inside hello", () => {
      expect(tok.contentIds("hello")).toEqual([516]);
      expect(tok.contentIds("lo")).toEqual([514]);
      expect(tok.contentIds("cats cat")).toEqual([528, 518]);
    });
    test("merges every occurrence of a pair left to right without overlap", () => {
      expect(tok.contentIds("aaaa")).toEqual([531, 64, 320]);
      expect(tok.contentIds("aaaaa")).toEqual([531, 531, 320]);
    });
    test("appends </w> to the last symbol of each word only", () => {
      // w o r l d</w>: no merge applies.
      expect(tok.tokenize("world")).toEqual(["w", "o", "r", "l", "d</w>"]);
      expect(tok.contentIds("world")).toEqual([86, 78, 81, 75, 323]);
    });
    test("lower-cases and collapses whitespace", () => {
      expect(tok.contentIds("  A PHOTO\tof\n\n a   Cat  ")).toEqual([320, 522, 523, 320, 518]);
    });
    test("splits punctuation from words and keeps punctuation runs together", () => {
      expect(tok.contentIds("Hello, World!")).toEqual([516, 267, 86, 78, 81, 75, 323, 256]);
      expect(tok.tokenize("wow!!?")).toEqual(["w", "o", "w</w>", "!", "!", "?</w>"]);
      expect(tok.contentIds("wow!!?")).toEqual([86, 78, 342, 0, 0, 286]);
    });
    test("splits numbers into single digits", () => {
      expect(tok.contentIds("1024x768")).toEqual([272, 271, 273, 275, 343, 278, 277, 279]);
    });
    test("splits English contractions off as their own pieces", () => {
      expect(tok.contentIds("don't")).toEqual([525, 526]);
      expect(tok.contentIds("DON'T")).toEqual([525, 526]);
      expect(tok.tokenize("it's")).toEqual(["i", "t</w>", "'", "s</w>"]);
      expect(tok.contentIds("you're")).toEqual([88, 78, 340, 6, 81, 324]);
    });
    test("groups unicode letters and lower-cases them", () => {
      // café = c a f Ã ©</w>, c+a merges.
      expect(tok.contentIds("Café")).toEqual([517, 69, 127, 358]);
      // ΑΒ → αβ = CE B1 CE B2 = Î ± Î ²</w>.
      expect(tok.contentIds("ΑΒ")).toEqual([138, 109, 138, 366]);
    });
    test("normalizes to NFC, so a combining accent spells the same as é", () => {
      expect(tok.contentIds("Cafe\u0301")).toEqual([517, 69, 127, 358]);
    });
    test("drops control characters", () => {
      expect(tok.contentIds("a\u0000b\u200b")).toEqual([64, 321]);
    });
    test("keeps special tokens written in the text", () => {
      expect(tok.contentIds("a <|endoftext|> cat")).toEqual([320, EOS, 518]);
    });
    test("gives the unk id to a symbol missing from the vocabulary", () => {
      const vocab = handVocab();
      delete vocab["q</w>"];
      const partial = ClipTokenizer.fromData({ vocab, merges: MERGES, unkToken: "!" });
      expect(partial.contentIds("aq")).toEqual([64, 0]);
    });
  });

  describe("when encoding a row for the text encoder", () => {
    test("wraps the ids in start and end tokens and pads with the end token to 77", () => {
      const ids = tok.encode("a photo of a cat");
      expect(ids).toBeInstanceOf(Int32Array);
      expect([...ids]).toEqual(row([320, 522, 523, 320, 518]));
    });
    test("pads with the configured pad token, as SD 2.x does with ! (id 0)", () => {
      const sd2 = ClipTokenizer.fromData({ vocab: handVocab(), merges: MERGES, padToken: "!" });
      expect(sd2.padId).toBe(0);
      expect([...sd2.encode("a cat")]).toEqual(row([320, 518], 0));
    });
    test("encodes the empty prompt as start, end, padding", () => {
      expect([...tok.encode("")]).toEqual(row([]));
    });
    test("keeps 75 content ids and the end token when the prompt is longer", () => {
      const a75 = new Array<number>(75).fill(320);
      expect([...tok.encode("a ".repeat(75))]).toEqual(row(a75));
      expect([...tok.encode("a ".repeat(76))]).toEqual(row(a75));
      const long = tok.encode("a ".repeat(100) + "cat");
      expect(long.length).toBe(77);
      expect(long[76]).toBe(EOS);
      expect(tok.contentIds("a ".repeat(100)).length).toBe(100);
    });
    test("honours a shorter max length", () => {
      const short = ClipTokenizer.fromData({ vocab: handVocab(), merges: MERGES, maxLength: 6 });
      expect([...short.encode("a photo of a cat red")]).toEqual([BOS, 320, 522, 523, 320, EOS]);
    });
    test("gives the same ids as int64", () => {
      const ids = tok.encodeBigInt64("Hello, World!");
      expect(ids).toBeInstanceOf(BigInt64Array);
      expect([...ids]).toEqual([...tok.encode("Hello, World!")].map(BigInt));
    });
  });

  describe("when decoding", () => {
    test("turns each </w> into a space and stops at the end token", () => {
      expect(tok.decode(tok.encode("A photo of a CAT"))).toBe("a photo of a cat");
      expect(tok.decode(tok.encode("Café, 1024x768!"))).toBe("café , 1 0 2 4 x 7 6 8 !");
    });
    test("ignores SD 2.x padding after the end token", () => {
      const sd2 = ClipTokenizer.fromData({ vocab: handVocab(), merges: MERGES, padToken: "!" });
      expect(sd2.decode(sd2.encodeBigInt64("hello world"))).toBe("hello world");
    });
    test("rejects an id outside the vocabulary", () => {
      expect(() => tok.decode([BOS, 9999, EOS])).toThrow(UsageError);
      expect(() => tok.decode([BOS, 9999, EOS])).toThrow(/token id 9999/);
    });
  });

  describe("when loading a tokenizer folder", () => {
    const prompts = ["a photo of a cat", "Hello, World! don't", "1024x768 café ΑΒ", "", "aaaaa cats red"];
    const expected = prompts.map((p) => [...tok.encode(p)]);
    const vocabFiles = {
      "vocab.json": handVocab(),
      "merges.txt": "#version: 0.2\n" + MERGES.join("\n") + "\n",
    };
    const config = {
      model_max_length: 77,
      do_lower_case: true,
      tokenizer_class: "CLIPTokenizer",
      bos_token: { __type: "AddedToken", content: "<|startoftext|>" },
      eos_token: { __type: "AddedToken", content: "<|endoftext|>" },
      unk_token: { __type: "AddedToken", content: "<|endoftext|>" },
      pad_token: "<|endoftext|>",
    };
    const encodeAll = (t: ClipTokenizer) => prompts.map((p) => [...t.encode(p)]);

    test("reads vocab.json and merges.txt like the in-memory vocabulary", async () => {
      using dir = tempDir();
      writeFolder(dir.path, { ...vocabFiles, "tokenizer_config.json": config });
      const loaded = await ClipTokenizer.load(dir.path);
      expect(encodeAll(loaded)).toEqual(expected);
      expect(loaded.vocabSize).toBe(534);
    });
    test("reads tokenizer.json with merges as strings or as pairs, giving the same ids", async () => {
      for (const merges of [MERGES, MERGES.map((m) => m.split(" "))]) {
        using dir = tempDir();
        writeFolder(dir.path, {
          "tokenizer.json": { version: "1.0", model: { type: "BPE", vocab: handVocab(), merges } },
          "tokenizer_config.json": config,
        });
        expect(encodeAll(await ClipTokenizer.load(dir.path))).toEqual(expected);
      }
    });
    test("takes the pad token from special_tokens_map.json over tokenizer_config.json", async () => {
      using dir = tempDir();
      writeFolder(dir.path, {
        ...vocabFiles,
        "tokenizer_config.json": config,
        "special_tokens_map.json": { pad_token: "!", eos_token: { content: "<|endoftext|>" } },
      });
      const sd2 = await ClipTokenizer.load(dir.path);
      expect(sd2.padId).toBe(0);
      expect([...sd2.encode("a cat")]).toEqual(row([320, 518], 0));
    });
    test("uses model_max_length, treating the huge 'no limit' sentinel as 77", async () => {
      using dir = tempDir();
      writeFolder(dir.path, { ...vocabFiles, "tokenizer_config.json": { model_max_length: 16 } });
      expect((await ClipTokenizer.load(dir.path)).encode("a").length).toBe(16);
      writeFolder(dir.path, { "tokenizer_config.json": { model_max_length: 1e30 } });
      expect((await ClipTokenizer.load(dir.path)).encode("a").length).toBe(77);
    });
    test("defaults to 77 and end-token padding without config files", async () => {
      using dir = tempDir();
      writeFolder(dir.path, vocabFiles);
      const bare = await ClipTokenizer.load(dir.path);
      expect([bare.maxLength, bare.bosId, bare.eosId, bare.padId, bare.unkId]).toEqual([77, BOS, EOS, EOS, EOS]);
    });

    describe("that is broken", () => {
      const rejects = async (files: Record<string, unknown>, message: RegExp) => {
        using dir = tempDir();
        writeFolder(dir.path, files);
        const err = await ClipTokenizer.load(dir.path).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ModelError);
        expect((err as Error).message).toMatch(message);
      };
      test("names a missing vocab.json", () => rejects({ "merges.txt": "#version: 0.2\n" }, /vocab\.json is missing/));
      test("names a missing merges.txt", () => rejects({ "vocab.json": handVocab() }, /merges\.txt is missing/));
      test("names a vocab.json that is not JSON", () =>
        rejects({ ...vocabFiles, "vocab.json": '{"a": 1' }, /vocab\.json is not valid JSON/));
      test("names a vocab.json with a non-integer id", () =>
        rejects({ ...vocabFiles, "vocab.json": { a: "x" } }, /vocab\.json: token "a" has id "x"/));
      test("names the bad line of merges.txt", () =>
        rejects({ ...vocabFiles, "merges.txt": "#version: 0.2\nh e\nl l\nabc\n" }, /merges\.txt: merge 3 is "abc"/));
      test("names a tokenizer.json without a BPE model", () =>
        rejects({ "tokenizer.json": { model: { type: "BPE" } } }, /tokenizer\.json has no model\.vocab/));
      test("names a corrupt tokenizer_config.json", () =>
        rejects({ ...vocabFiles, "tokenizer_config.json": "{" }, /tokenizer_config\.json is not valid JSON/));
      test("names a pad token missing from the vocabulary", () =>
        rejects(
          { ...vocabFiles, "tokenizer_config.json": { pad_token: "<pad>" } },
          /tokenizer_config\.json: pad_token "<pad>" is not in .*vocab\.json/,
        ));
    });
  });
});
