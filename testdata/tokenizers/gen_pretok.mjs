// gen_pretok.mjs writes pretok.json: how the Hugging Face JavaScript
// tokenizer's Split pre-tokenizer ("Isolated") cuts random strings with the
// regular expressions of llama.cpp's pre-tokenizers and of the Hugging Face
// files. The Go scanners in tokenizer/pretok.go are tested against it. See
// README.md.
//
// Usage: TOKREF=/tmp/tokref node testdata/tokenizers/gen_pretok.mjs
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tokref = process.env.TOKREF ?? "/tmp/tokref";
const require = createRequire(path.join(tokref, "package.json"));
const { SplitPreTokenizer } = require("@huggingface/tokenizers");
const version = JSON.parse(fs.readFileSync(path.join(tokref, "node_modules/@huggingface/tokenizers/package.json"), "utf8")).version;

const contractionsCI = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`;
const gpt2 = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`;
// Each pipeline is a list of expressions applied one after the other, as
// llama.cpp applies its regex_exprs (names are tokenizer.ggml.pre kinds),
// plus the original expressions of the two Hugging Face files.
const pipelines = {
  "llama3": [contractionsCI + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`],
  "qwen2": [contractionsCI + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`],
  "gpt2": [gpt2],
  "smollm": [String.raw`\p{N}`, gpt2],
  "default": [String.raw`[\p{P}\$\+<=>\^~\|]+`, gpt2, String.raw`\p{N}+`, "[0-9][0-9][0-9]"],
  "deepseek-llm": [
    "[\r\n]",
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}]+",
    "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
    "\\s+$",
    "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
    String.raw`\p{N}+`,
  ],
  "hf-llama3": [String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`],
  "hf-qwen2": [String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`],
};

// Random strings from a pool of pieces chosen to hit every branch of the
// expressions. U+0085 and U+FEFF are left out: JavaScript's \s disagrees on
// them with the engines the expressions were written for.
const pool = [
  "a", "Z", "é", "ß", "ſ", "\u212A", "x", "Ω", "ή", "Ж", "ا", "न", "ि", "カ", "中", "文", "한", "\u00B5", "ǅ",
  "0", "7", "9", "٣", "²", "½", "Ⅻ",
  " ", " ", " ", "  ", "\t", "\n", "\r", "\r\n", "\u000b", "\u000c", "\u00a0", "\u3000", "\u2009", "\u2028",
  "'", "'s", "'T", "'re", "'LL", "'d", "'Ve", "'m", "'ſ",
  ".", ",", "!", "?", "-", "_", "$", "+", "<", "=", "|", "~", "^", "(", ")", "\"", "#", "@", "`", "*",
  "，", "。", "！", "“", "”", "‘", "　",
  "\u0301", "\u0308", "😀", "👍🏽", "\u200d", "\u200b", "\ufffd", "\u00ad",
];
let seed = 20240601;
const rnd = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return Math.floor((seed / 2147483648) * n);
};
const texts = [];
for (let i = 0; i < 300; i++) {
  let s = "";
  const len = 1 + rnd(14);
  for (let j = 0; j < len; j++) s += pool[rnd(pool.length)];
  texts.push(s);
}

function split(exprs, text) {
  let pieces = [text];
  for (const e of exprs) {
    const st = new SplitPreTokenizer({ type: "Split", pattern: { Regex: e }, behavior: "Isolated", invert: false });
    pieces = pieces.flatMap((p) => st.pre_tokenize_text(p));
  }
  return pieces;
}

const cases = texts.map((text) => {
  const c = { text };
  for (const [name, exprs] of Object.entries(pipelines)) c[name] = split(exprs, text);
  return c;
});
const head = JSON.stringify({
  generator: `testdata/tokenizers/gen_pretok.mjs with @huggingface/tokenizers ${version} SplitPreTokenizer, node ${process.version}`,
  pipelines,
}, null, 1).replace(/\n}$/, "");
fs.writeFileSync(path.join(here, "pretok.json"), `${head},\n "cases": [\n${cases.map((c) => JSON.stringify(c)).join(",\n")}\n]}\n`);
console.log(`${cases.length} cases`);
