/**
 * A small CLIP-format vocabulary for the untrained `tiny` model, built the same way every time:
 * the 256 byte symbols, their `</w>` forms, one token per merge learned by a small BPE pass over
 * the word list below, then <|startoftext|> and <|endoftext|> — the id layout of OpenAI's CLIP vocab
 * (reference/sd-onnx-layout.md §6), only shorter.
 *
 *   const { vocab, merges } = buildTinyVocab();   // vocab["a</w>"] === 320, TINY_VOCAB_SIZE entries
 *   await writeTinyTokenizerFolder(join(modelDir, "tokenizer"));
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  END_OF_WORD,
  END_TOKEN,
  START_TOKEN,
  byteLevelSymbols,
  cleanText,
  preTokenize,
  toByteLevel,
} from "../clip-tokenizer.ts";

/** Entries in the tiny vocabulary: 512 byte symbols + the merges the word list yields + 2 specials. */
export const TINY_VOCAB_SIZE = 2663;

/**
 * The training text: words people put in prompts, plus the small words that glue prompts together.
 * Order is free (training counts pairs; ties break alphabetically). Exported for tests.
 */
export const TINY_VOCAB_WORDS = `
a an the of in on at to for with and or by from into over under near behind above below
between through across around beside inside outside without while as is are was be been
it its this that these those there here very more most some many few all each every one two
three four five six seven eight nine ten hundred thousand first second last new old big
small tiny huge giant little large tall short long wide deep high low full empty open closed
photo photograph picture image portrait painting drawing sketch illustration render rendering
poster cover art artwork concept character design scene view shot close up closeup wide angle
lens camera film analog digital canon nikon sony studio lighting light dark shadow shadows
highly detailed detail details intricate sharp focus soft blur blurry bokeh depth field
realistic photorealistic hyperrealistic surreal abstract minimal minimalist cinematic dramatic
epic beautiful pretty cute lovely gorgeous stunning elegant ugly scary creepy spooky happy sad
angry calm peaceful quiet lonely mysterious magical fantasy dreamy whimsical vintage retro
modern futuristic ancient medieval gothic baroque victorian steampunk cyberpunk dieselpunk
style styled trending artstation behance deviantart pixiv unreal engine octane blender
unity maya houdini volumetric global illumination ray tracing raytracing subsurface scattering
resolution quality masterpiece best award winning professional amateur trending featured
oil watercolor watercolour acrylic gouache pastel charcoal pencil ink pen marker crayon chalk
canvas paper digital vector pixel pixels voxel low poly isometric anime manga cartoon comic
comics disney pixar ghibli studio illustrated flat shaded cel shading lineart line lines
impressionism impressionist expressionism cubism surrealism realism renaissance romanticism
pop art deco nouveau ukiyo woodblock print mosaic stained glass graffiti mural tattoo
red orange yellow green blue indigo violet purple pink magenta cyan teal turquoise brown
black white gray grey silver gold golden bronze copper beige ivory cream maroon crimson
scarlet navy olive lime emerald jade ruby sapphire amber coral peach lavender lilac azure
colorful colourful vibrant vivid saturated muted pale neon glowing glow shiny matte glossy
pastel monochrome sepia rainbow color colors colour colours hue tone tones palette gradient
cat cats kitten kittens dog dogs puppy puppies fox foxes wolf wolves bear bears lion lions
tiger tigers leopard cheetah panther jaguar elephant elephants giraffe zebra horse horses
pony unicorn deer moose elk rabbit bunny hare squirrel mouse mice rat hamster owl owls eagle
hawk falcon raven crow parrot penguin swan duck goose chicken rooster peacock flamingo
hummingbird sparrow robin bird birds fish goldfish shark sharks whale whales dolphin octopus
jellyfish crab lobster turtle frog toad snake lizard dragon dragons dinosaur monkey ape
gorilla panda koala kangaroo sloth otter beaver raccoon hedgehog bat bee bees butterfly
butterflies moth spider ant ladybug snail cow cows pig sheep lamb goat camel llama alpaca
mountain mountains hill hills valley valleys canyon cliff cliffs rock rocks stone stones
forest forests woods jungle rainforest tree trees pine oak palm willow birch bamboo leaf
leaves grass meadow field fields flower flowers rose roses tulip tulips sunflower lily lotus
daisy orchid cherry blossom blossoms garden gardens park lake lakes river rivers stream
waterfall waterfalls pond sea seas ocean oceans beach beaches shore coast island islands
wave waves sand dune dunes desert oasis glacier iceberg ice snow snowy frost frozen winter
spring summer autumn fall season sky skies cloud clouds cloudy sun sunny sunrise sunset
dawn dusk twilight night midnight moon moonlight star stars starry galaxy galaxies nebula
space planet planets earth mars universe cosmos comet aurora borealis storm stormy rain
rainy thunder lightning fog foggy mist misty haze smoke fire flame flames lava volcano
weather wind windy landscape landscapes scenery seascape cityscape skyline horizon
city cities town village street streets road roads alley bridge bridges tower towers
castle castles palace temple church cathedral house houses home cottage cabin hut barn farm
building buildings skyscraper skyscrapers apartment room rooms kitchen bedroom library
window windows door doors wall walls roof stairs floor ceiling lamp lantern candle candles
market shop cafe restaurant bar station train trains car cars truck bus bicycle bike
motorcycle boat boats ship ships sailboat plane airplane rocket spaceship robot robots
machine machines engine computer phone screen clock watch book books table chair sofa bed
man men woman women boy boys girl girls child children baby person people family friends
king queen prince princess knight wizard witch warrior soldier samurai ninja pirate
astronaut cowboy detective scientist doctor chef farmer artist painter musician dancer
singer player monk angel angels demon ghost zombie vampire elf fairy mermaid goddess god hero
face faces eye eyes hair hands hand smile smiling laughing crying standing sitting walking
running flying swimming dancing reading sleeping riding holding wearing looking playing
dress hat helmet armor armour crown mask cloak coat jacket shirt shoes boots glasses scarf
food bread cake pie pizza burger sushi fruit fruits apple apples banana oranges lemon
strawberry grapes coffee tea wine beer water milk chocolate candy soup salad breakfast
sweet bright warm cold hot cool wet dry rough smooth soft hard heavy light clear dirty clean
golden hour blue hour morning evening afternoon day days daylight noon shade shaded sunlit
reflection reflections mirror glass crystal crystals diamond metal metallic wooden wood
marble concrete brick bricks steel iron plastic fabric silk velvet leather fur feathers
pattern patterns texture textures shape shapes circle square triangle spiral line dots
symmetry symmetrical centered composition perspective aerial drone top down side front back
background foreground silhouette macro micro telephoto fisheye panorama panoramic portrait
4k 8k hd uhd hdr 35mm 50mm 85mm f1 iso raw jpeg png render rendered trending artstation
beautifully detailed ultra extremely super highly insanely incredibly perfect perfectly
photography photographer cinematography illustration illustrator concept artist painted
by greg rutkowski alphonse mucha van gogh monet picasso rembrandt vermeer dali hokusai
music song dance party festival wedding birthday holiday christmas halloween celebration
magic spell potion sword shield bow arrow gun gem treasure chest map key portal gate
dream dreams memory memories love heart peace war battle journey adventure quest story
time past future world worlds life nature wild wildlife animal animals creature creatures
ocean underwater coral reef bubbles deep sea abyss cave caves tunnel mine ruins ruin
abandoned overgrown destroyed broken rusty old weathered cozy warm inviting spacious
tiny miniature diorama toy toys doll dolls lego clay plasticine origami paper sculpture
statue statues figure figurine bust relief carving engraving etching lithograph
lights lit lamps glowing sparkling shining sparkles dust particles rays beams
`;

interface TrainingWord {
  symbols: string[];
  count: number;
}

/** The word list as byte-level symbol sequences, `</w>` on each last symbol, with counts. */
function trainingWords(): TrainingWord[] {
  const counts = new Map<string, number>();
  for (const piece of preTokenize(cleanText(TINY_VOCAB_WORDS))) {
    const word = toByteLevel(piece);
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return [...counts].map(([word, count]) => {
    const symbols = Array.from(word);
    symbols[symbols.length - 1] += END_OF_WORD;
    return { symbols, count };
  });
}

const pairKey = (a: string, b: string) => a + " " + b;

interface Candidate {
  a: string;
  b: string;
  count: number;
}

/** Training order: most frequent first, ties alphabetical on the first then the second symbol. */
const before = (x: Candidate, y: Candidate): boolean =>
  x.count !== y.count ? x.count > y.count : x.a !== y.a ? x.a < y.a : x.b < y.b;

/** Binary heap of merge candidates; entries go stale when counts change and are skipped on pop. */
class CandidateHeap {
  private readonly items: Candidate[] = [];

  push(item: Candidate): void {
    const items = this.items;
    let i = items.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): Candidate | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    for (let i = 0; ; ) {
      let first = i;
      for (const child of [2 * i + 1, 2 * i + 2]) {
        if (child < items.length && before(items[child]!, items[first]!)) first = child;
      }
      if (first === i) break;
      [items[i], items[first]] = [items[first]!, items[i]!];
      i = first;
    }
    return top;
  }
}

/**
 * BPE training until every word is one token: repeatedly merge the first pair in training order.
 * A pair whose merged string is already a token is passed over, so that every merge adds exactly
 * one new token and token id = 512 + merge index, as in CLIP's vocab.
 */
function learnMerges(words: TrainingWord[], known: Set<string>): string[] {
  const pairCounts = new Map<string, number>();
  const wordsWithPair = new Map<string, Set<number>>();
  const heap = new CandidateHeap();
  const touched = new Map<string, [string, string]>();
  const account = (w: number, sign: 1 | -1) => {
    const { symbols, count } = words[w]!;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const a = symbols[i]!;
      const b = symbols[i + 1]!;
      const key = pairKey(a, b);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * count);
      touched.set(key, [a, b]);
      if (sign > 0) {
        let set = wordsWithPair.get(key);
        if (!set) wordsWithPair.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  const refreshTouched = () => {
    for (const [key, [a, b]] of touched) {
      const count = pairCounts.get(key)!;
      if (count > 0) heap.push({ a, b, count });
      else pairCounts.delete(key);
    }
    touched.clear();
  };
  words.forEach((_, w) => account(w, 1));
  refreshTouched();

  const merges: string[] = [];
  for (let best = heap.pop(); best; best = heap.pop()) {
    const { a, b, count } = best;
    const key = pairKey(a, b);
    if (pairCounts.get(key) !== count || known.has(a + b)) continue;
    for (const w of wordsWithPair.get(key) ?? []) {
      account(w, -1);
      const old = words[w]!.symbols;
      const next: string[] = [];
      for (let i = 0; i < old.length; i++) {
        if (old[i] === a && old[i + 1] === b) {
          next.push(a + b);
          i++;
        } else {
          next.push(old[i]!);
        }
      }
      words[w]!.symbols = next;
      account(w, 1);
    }
    wordsWithPair.delete(key);
    refreshTouched();
    known.add(a + b);
    merges.push(key);
  }
  return merges;
}

export interface TinyVocab {
  /** token → id, ids 0 … TINY_VOCAB_SIZE−1 */
  vocab: Record<string, number>;
  /** merge lines "a b" in rank order, without merges.txt's "#version" header */
  merges: string[];
}

export function buildTinyVocab(): TinyVocab {
  const tokens = byteLevelSymbols();
  tokens.push(...tokens.map((s) => s + END_OF_WORD));
  const merges = learnMerges(trainingWords(), new Set(tokens));
  for (const merge of merges) tokens.push(merge.replace(" ", ""));
  tokens.push(START_TOKEN, END_TOKEN);
  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => (vocab[token] = id));
  return { vocab, merges };
}

export interface TinyTokenizerOptions {
  /** "<|endoftext|>" as SD 1.x (default), or "!" as SD 2.x's OpenCLIP tokenizer. */
  padToken?: string;
}

/** Writes vocab.json, merges.txt, special_tokens_map.json and tokenizer_config.json into `dir`. */
export async function writeTinyTokenizerFolder(dir: string, options: TinyTokenizerOptions = {}): Promise<void> {
  const { vocab, merges } = buildTinyVocab();
  const padToken = options.padToken ?? END_TOKEN;
  if (!Object.hasOwn(vocab, padToken)) {
    throw new Error(`tiny tokenizer: pad token ${JSON.stringify(padToken)} is not in the vocabulary`);
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "vocab.json"), sortedVocabJson(vocab));
  await writeFile(join(dir, "merges.txt"), ["#version: 0.2", ...merges].join("\n") + "\n");
  const added = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false });
  const specialTokensMap = {
    bos_token: added(START_TOKEN),
    eos_token: added(END_TOKEN),
    pad_token: padToken,
    unk_token: added(END_TOKEN),
  };
  await writeFile(join(dir, "special_tokens_map.json"), JSON.stringify(specialTokensMap, null, 2) + "\n");
  const typed = (content: string) => ({ __type: "AddedToken", ...added(content) });
  const tokenizerConfig = {
    add_prefix_space: false,
    bos_token: typed(START_TOKEN),
    do_lower_case: true,
    eos_token: typed(END_TOKEN),
    errors: "replace",
    model_max_length: 77,
    name_or_path: "latentloom/tiny",
    pad_token: padToken,
    special_tokens_map_file: "./special_tokens_map.json",
    tokenizer_class: "CLIPTokenizer",
    unk_token: typed(END_TOKEN),
  };
  await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig, null, 2) + "\n");
}

/**
 * vocab.json as transformers saves it: keys sorted, two-space indent. Written by hand because a JS
 * object lists integer-like keys ("0" … "9") first whatever their order.
 */
function sortedVocabJson(vocab: Record<string, number>): string {
  const keys = Object.keys(vocab).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return "{\n" + keys.map((k) => `  ${JSON.stringify(k)}: ${vocab[k]}`).join(",\n") + "\n}\n";
}
