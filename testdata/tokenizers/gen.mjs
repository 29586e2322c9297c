// gen.mjs writes llama3.json and qwen3.json: the token ids that the
// Hugging Face JavaScript tokenizer gives for a fixed set of strings, with
// the real tokenizer files of ../shared/tokenizers. See README.md.
//
// Usage (from anywhere):
//   mkdir -p /tmp/tokref && cd /tmp/tokref && npm init -y &&
//     npm install --ignore-scripts @huggingface/transformers@4.3.1 @lenml/tokenizers@3.7.2
//   (transformers.js 4.3.1 brings @huggingface/tokenizers 0.2.0, its tokenizer)
//   TOKREF=/tmp/tokref SHARED=/work/shared node testdata/tokenizers/gen.mjs
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tokref = process.env.TOKREF ?? "/tmp/tokref";
const shared = process.env.SHARED ?? path.join(here, "..", "..", "..", "shared");
const require = createRequire(path.join(tokref, "package.json"));

function load(name) {
  const pkg = JSON.parse(fs.readFileSync(path.join(tokref, "node_modules", name, "package.json"), "utf8"));
  return { mod: require(name), version: pkg.version };
}

const hf = load("@huggingface/tokenizers");
const lenml = load("@lenml/tokenizers");

// The strings. Some are chosen for one tokenizer but all are run through
// both. U+0085 and U+FEFF are left out on purpose: JavaScript's \s differs
// from the Rust (Oniguruma) \s that the tokenizer files were written for on
// exactly those two characters.
const texts = [
  "",
  "Hello world",
  "Hello, world! How are you?",
  " leading space",
  "  two leading spaces",
  "trailing space ",
  "trailing spaces   ",
  "multiple    spaces   between words",
  "     ",
  " ",
  "\n",
  "\n\n\n",
  "line one\nline two\n",
  "windows\r\nline\r\nendings\r\n",
  "\r\n\r\n",
  "lone\rcarriage\r\rreturns",
  "tabs\tand\t\ttabs",
  "\t\tindented with tabs",
  "    four-space indent\n        eight\n",
  "mixed \t \n whitespace \n\t ",
  "end\n\n  ",
  "def fib(n):\n    if n < 2:\n        return n\n    return fib(n-1) + fib(n-2)\n",
  "for (int i = 0; i < 10; i++) {\n\tprintf(\"%d\\n\", i);\n}",
  "func main() {\n\tfmt.Println(\"héllo\")\n}\n",
  "x=1;y=22;z=333;w=4444;v=55555",
  "1",
  "12",
  "123",
  "1234",
  "12345",
  "123456",
  "1234567",
  "12345678901234567890",
  "3.14159 2.71828 -42 +7 1e10 0x1F 1,000,000",
  "The year 2024 had 366 days.",
  "phone: +1 (555) 123-4567",
  "abc123def4567ghi",
  "١٢٣ ٤٥٦٧ ५६७८ 一二三 ½ ² Ⅻ",
  "don't I'LL we've they're she'd it's I'm YOU'RE He'S",
  "'s 't 're 've 'm 'll 'd",
  "rock 'n' roll's 'tis",
  "I said 'hello' and \"goodbye\"",
  "emoji 😀👍🏽 and flags 🇳🇴🇯🇵",
  "family 👨‍👩‍👧‍👦 and 🏳️‍🌈 and 👩🏾‍💻",
  "😀😀😀😀",
  "🤖 AI 🚀 rocket 🎉",
  "emoji-adjacent😀text",
  "日本語のテキストです。",
  "中文测试：你好，世界！",
  "한국어 텍스트입니다",
  "café naïve résumé Ångström façade",
  "Zürich Ærøskøbing Łódź ß ẞ",
  "Español: ¿Qué tal? ¡Bien!",
  "مرحبا بالعالم",
  "नमस्ते दुनिया",
  "สวัสดีครับ",
  "שלום עולם",
  "Привет, мир!",
  "Γειά σου Κόσμε",
  "cafe\u0301 nai\u0308ve",
  "\u212B and \u2126",
  "\u1100\u1161\u11A8",
  "ﬁ ligature",
  "Ω≈ç√∫˜µ≤≥÷ ∀x∈ℝ: x²≥0",
  "a\u00a0b\u3000c\u2009d",
  "nul\u0000byte and \u0007 bell",
  "x\u200by zero width",
  "soft\u00adhyphen \ufffd replacement",
  "x\u2028y\u2029z \u000b\u000c vt ff",
  "it'\u017f fine, '\u017f and 'S 'Ll 'rE",
  "a" + " ".repeat(40) + "b" + "\n".repeat(5) + "\t".repeat(3) + "c",
  "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
  "<|begin_of_text|>Hello<|end_of_text|>",
  "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
  "<think>\nreasoning\n</think>\n\nanswer",
  "<tool_call>{\"name\": \"f\"}</tool_call>",
  "<|endoftext|>",
  "text<|im_end|>more <|im_start|><|im_start|>",
  "<|im_start <|im_end|",
  "supercalifragilisticexpialidocious",
  "Pneumonoultramicroscopicsilicovolcanoconiosis",
  "a".repeat(100),
  "internationalization".repeat(12),
  "9".repeat(64),
  "https://example.com/path?query=1&b=2#frag",
  "user.name+tag@example.co.uk",
  "# Title\n\n- item 1\n- item 2\n\n**bold** _it_ `code`",
  "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
  "!!!??? ... --- *** ### $$$ %%%",
  "...and so on...",
  "$100 and 50% off, #1 @user ^_^ ~tilde |pipe| <tag>",
  "Hello , world . Is it ? Yes ! I do n't know . He 's here , they 're ' quoted ' .",
  "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.",
];

function sha256(file) {
  return require("node:crypto").createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

function withoutSpecialAdded(json) {
  // Special added tokens are matched in text unless split_special_tokens
  // is set, an option the JavaScript tokenizer lacks. Leaving them out of
  // added_tokens has the same effect: their text is encoded as text.
  return { ...json, added_tokens: json.added_tokens.filter((t) => !t.special) };
}

function decodeAll(tok, ids, opts) {
  return ids.length === 0 ? "" : tok.decode(ids, opts);
}

function arr(x) {
  return Array.from(x.ids ?? x, Number);
}

let mismatches = 0;
for (const name of ["llama3", "qwen3"]) {
  const dir = path.join(shared, "tokenizers", name);
  const jsonFile = path.join(dir, "tokenizer.json");
  const configFile = path.join(dir, "tokenizer_config.json");
  const json = JSON.parse(fs.readFileSync(jsonFile, "utf8"));
  const config = JSON.parse(fs.readFileSync(configFile, "utf8"));

  const tok = new hf.mod.Tokenizer(json, config);
  const plain = new hf.mod.Tokenizer(withoutSpecialAdded(json), config);
  const other = lenml.mod.TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });
  const otherPlain = lenml.mod.TokenizerLoader.fromPreTrained({ tokenizerJSON: withoutSpecialAdded(json), tokenizerConfig: config });

  const cases = [];
  for (const text of texts) {
    const ids = arr(tok.encode(text, { add_special_tokens: true }));
    const idsPlain = arr(plain.encode(text, { add_special_tokens: false }));
    const c = {
      text,
      ids, // special tokens added as the post-processor says, special-token text parsed
      ids_plain: idsPlain, // nothing added, special-token text encoded as text
      decoded: decodeAll(tok, ids, { skip_special_tokens: true }),
      decoded_plain: decodeAll(tok, idsPlain, { skip_special_tokens: false }),
    };
    // Cross-check with a second, independently maintained JavaScript port.
    const o = arr(other.encode(text, { add_special_tokens: true }));
    const op = arr(otherPlain.encode(text, { add_special_tokens: false }));
    if (JSON.stringify(o) !== JSON.stringify(ids) || JSON.stringify(op) !== JSON.stringify(idsPlain)) {
      mismatches++;
      console.error(`${name}: ${JSON.stringify(text)}: @lenml/tokenizers gives ${JSON.stringify(o)} / ${JSON.stringify(op)}, @huggingface/tokenizers ${JSON.stringify(ids)} / ${JSON.stringify(idsPlain)}`);
    }
    cases.push(c);
  }
  const out = {
    tokenizer: name,
    generator: `testdata/tokenizers/gen.mjs with @huggingface/tokenizers ${hf.version} (checked against @lenml/tokenizers ${lenml.version}), node ${process.version}`,
    tokenizer_json_sha256: sha256(jsonFile),
    tokenizer_config_json_sha256: sha256(configFile),
  };
  const head = JSON.stringify(out, null, 1).replace(/\n}$/, "");
  const body = cases.map((c) => JSON.stringify(c)).join(",\n");
  fs.writeFileSync(path.join(here, name + ".json"), `${head},\n "cases": [\n${body}\n]}\n`);
  console.log(`${name}: ${cases.length} cases`);
}
if (mismatches > 0) {
  console.error(`${mismatches} disagreements between the two JavaScript tokenizers`);
  process.exit(1);
}
