#!/usr/bin/env node
// gen.mjs regenerates the llama.cpp reference data in this directory. Tests do
// not run it; it needs node-llama-cpp 3.22.1 (prebuilt CPU binaries) and the
// small C helper vocab.c built against the same libllama.
//
//   NODE_LLAMA_CPP_DIR=/path/to/node_modules \
//   VOCAB=/path/to/vocab LLAMACPP_MJS=/path/to/llamacpp.mjs LLAMABENCH=/path/to/llamabench \
//   node gen.mjs MODEL OUTDIR
//
// LLAMABENCH is optional: when set, every greedy run of the main settings is
// repeated with that C driver (llama_decode + argmax, persistent threadpool)
// and must give the same ids.

import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";

const [modelPath, outDir] = process.argv.slice(2);
if (!modelPath || !outDir) fail("usage: node gen.mjs MODEL OUTDIR");
const vocabTool = need("VOCAB");
const llamacppMjs = need("LLAMACPP_MJS");
const nlcDir = need("NODE_LLAMA_CPP_DIR");

const THREADS = 2;
const N_CTX = 512;
const N_BATCH = 512;

function fail(msg) {
    process.stderr.write(`gen.mjs: ${msg}\n`);
    process.exit(1);
}

function need(name) {
    const v = process.env[name];
    if (!v) fail(`set ${name}`);
    return v;
}

function run(cmd, args, input) {
    const r = spawnSync(cmd, args, { input, encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0) fail(`${cmd} ${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
    return r.stdout;
}

const sameIds = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const parseIds = (s) => (s === "" ? [] : s.split(",").map(Number));
const utf8 = new TextDecoder("utf-8", { fatal: true });
const fromHex = (h) => utf8.decode(Buffer.from(h, "hex"));

// ---------------------------------------------------------------------------
// tokenizer: llama_tokenize / llama_detokenize / llama_token_to_piece via vocab.c

const texts = [
    "Hello world",
    "Once upon a time",
    "Once upon a time, there was a little girl named Lily.",
    "The quick brown fox jumps over the lazy dog.",
    "hello",
    "Hello",
    "HELLO WORLD",
    "a",
    "A",
    "ab",
    "The the THE tHe",
    " Hello",
    "  Hello",
    "Hello ",
    "Hello  world",
    "Hello   world   ",
    "   ",
    " ",
    "",
    "\n",
    "Hello\nworld",
    "line one\n\nline two\n",
    "\tTabbed\ttext",
    "a\r\nb",
    " \n \t ",
    "0123456789",
    "In 1999, 42 cats ate 3.14 pies.",
    "12345 + 67890 = 80235",
    "Hello, world! How are you?",
    "\"Quoted,\" she said; (parens) [brackets] {braces}",
    "It's a dog's life, isn't it?",
    "a-b_c/d\\e|f@g#h$i%j^k&l*m",
    "~`!?.,:;",
    "...",
    "!!!???",
    "Mr. and Mrs. Smith's 2 kids",
    "café",
    "naïve résumé",
    "e\u0301",
    "Ångström über Straße",
    "español: ¿Dónde está el niño?",
    "日本語",
    "你好，世界",
    "한국어",
    "Привет мир",
    "Γειά σου",
    "😀",
    "I love 🐶 and 🐱!",
    "👨‍👩‍👧",
    "\u00a0",
    "x\u200by",
    "\u0000",
    "\u2581",
    "Hello\u2581world",
    "<s>",
    "</s>",
    "<unk>",
    "Hello <s> world",
    "<s>Once upon a time</s>",
    "a<s>b",
    "<0x41>",
    "Lily and Tom were playing in the park.",
    "The little dog",
    "One day, a girl named Sue found a big red ball",
    "Tom said, \"Let's go!\"\nLily said, \"Yes!\"",
    "ha".repeat(50),
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. " +
        "One day, she saw a big, red ball in the park. She ran to it and picked it up. " +
        "\"This is my ball now!\" she said happily.",
    "The sun was shining and the birds were singing.\n\nBen and his mom went to the store to buy some " +
        "apples, bananas and milk. Ben wanted a toy car, but his mom said no. He was sad, but then he " +
        "smiled and said, \"It's okay, Mom. I love you!\"",
];

function tokenizeAll(texts) {
    const input = texts.map((t) => Buffer.from(t, "utf8").toString("hex")).join("\n") + "\n";
    const lines = run(vocabTool, ["tokenize", modelPath], input).trimEnd().split("\n");
    if (lines.length !== texts.length) fail(`vocab tokenize: ${lines.length} lines for ${texts.length} texts`);
    return lines.map((l, i) => {
        const [ids, ids2, dec] = l.split("|");
        return { text: texts[i], ids: parseIds(ids), ids_special: parseIds(ids2), decoded: fromHex(dec) };
    });
}

function pieces(ids) {
    if (ids.length === 0) return { text: "", text_special: "" };
    const [plain, special] = run(vocabTool, ["pieces", modelPath, ids.join(",")]).trimEnd().split("\n");
    const join = (line) => utf8.decode(Buffer.concat(line.split(",").map((h) => Buffer.from(h, "hex"))));
    return { text: join(plain), text_special: join(special) };
}

// ---------------------------------------------------------------------------

const pkgDir = fs.existsSync(path.join(nlcDir, "node-llama-cpp")) ? path.join(nlcDir, "node-llama-cpp") : nlcDir;
const nlc = await import(pathToFileURL(path.join(pkgDir, "dist", "index.js")).href);
const nlcVersion = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")).version;
const llama = await nlc.getLlama({
    gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
    progressLogs: false, maxThreads: THREADS, logLevel: nlc.LlamaLogLevel.warn
});
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const bos = model.tokens.bos;
const nVocab = model.fileInfo.metadata.llama.vocab_size;

const modelBytes = fs.readFileSync(modelPath);
const about = {
    model: path.basename(modelPath),
    model_sha256: crypto.createHash("sha256").update(modelBytes).digest("hex"),
    node_llama_cpp: nlcVersion,
    llama_cpp_commit: "de3ff815ea7d559ee917f063901b8986f038abc6",
    backend: "CPU (libggml-cpu-zen4.so, prebuilt by node-llama-cpp)"
};

// tokenize.json ------------------------------------------------------------
const toks = tokenizeAll(texts);
for (const t of toks) {
    // node-llama-cpp's model.tokenize(text, special) is common_tokenize(vocab,
    // text, add_special=false, parse_special=special): BOS is never added.
    const plain = [bos, ...model.tokenize(t.text, false)];
    const special = [bos, ...model.tokenize(t.text, true)];
    if (!sameIds(plain, t.ids)) fail(`tokenize ${JSON.stringify(t.text)}: node ${plain} != C ${t.ids}`);
    if (!sameIds(special, t.ids_special)) fail(`tokenize special ${JSON.stringify(t.text)}: node ${special} != C ${t.ids_special}`);
}
fs.writeFileSync(path.join(outDir, "tokenize.json"),
    "[\n" + toks.map((t) => JSON.stringify(t)).join(",\n") + "\n]\n");
process.stderr.write(`tokenize.json: ${toks.length} strings\n`);

// greedy.json --------------------------------------------------------------

const argmax = (row) => {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
    return best; // first (lowest) id on ties, like llama.cpp's greedy sampler
};

function toRow(logitsMap) {
    const row = new Float32Array(nVocab).fill(NaN);
    for (const [id, v] of logitsMap.entries()) row[id] = v;
    if (row.some(Number.isNaN)) fail("incomplete logits");
    return row;
}

// greedy decodes the prompt in one batch, then one token per llama_decode,
// taking the argmax of the raw logits; n tokens are returned.
async function greedy(promptIds, n, { fa, kv }) {
    const ctx = await model.createContext({
        contextSize: N_CTX, batchSize: N_BATCH, sequences: 1,
        threads: { ideal: THREADS, min: THREADS },
        flashAttention: fa,
        experimentalKvCacheKeyType: kv, experimentalKvCacheValueType: kv
    });
    const seq = ctx.getSequence();
    const next = { generateNext: { token: true, logits: true } };
    let res = await seq.controlledEvaluate(promptIds.map((t, i) => (i === promptIds.length - 1 ? [t, next] : t)));
    const out = [];
    for (;;) {
        const r = res[res.length - 1].next;
        const t = argmax(toRow(r.logits));
        if (t !== r.token) fail(`argmax ${t} != sampled ${r.token}`);
        out.push(t);
        if (out.length === n) break;
        if (promptIds.length + out.length > N_CTX) fail("context overflow");
        res = await seq.controlledEvaluate([[t, next]]);
    }
    await ctx.dispose();
    return out;
}

const variants = [
    { name: "fa_auto_kv_f16", fa: "auto", kv: "F16", what: "node-llama-cpp defaults: flash attention auto (llama.cpp enables it on this CPU), f16 K/V cache" },
    { name: "fa_off_kv_f16", fa: false, kv: "F16", what: "flash attention off, f16 K/V cache" },
    { name: "fa_off_kv_f32", fa: false, kv: "F32", what: "flash attention off, f32 K/V cache" },
    { name: "fa_on_kv_f32", fa: true, kv: "F32", what: "flash attention on, f32 K/V cache" }
];

const prompts = [
    "Once upon a time",
    "Lily and Tom were playing in the park.",
    "The little dog",
    "",
    "One day, a girl named Sue found a big red ball"
];
const jobs = prompts.map((p) => ({ prompt: p, n: 200 }));
{
    const p = "Once upon a time";
    const np = tokenizeAll([p])[0].ids.length;
    // fill the context: the last of these tokens is predicted from the logits
    // at position N_CTX-1 and is not decoded itself
    jobs.push({ prompt: p, n: N_CTX - np + 1, long: true });
}

const runs = [];
for (const job of jobs) {
    const promptIds = tokenizeAll([job.prompt])[0].ids;
    const byVariant = {};
    for (const v of variants) byVariant[v.name] = await greedy(promptIds, job.n, v);
    const main = byVariant[variants[0].name];
    if (process.env.LLAMABENCH) {
        const out = run(process.env.LLAMABENCH, ["greedy", modelPath, "--tokens", promptIds.join(","),
            "-n", String(job.n), "-t", String(THREADS), "--fa", "auto"]).trim();
        if (!sameIds(parseIds(out), main)) fail(`llamabench greedy differs for ${JSON.stringify(job.prompt)}`);
    }
    const entry = {
        prompt: job.prompt,
        ...(job.long ? { fills_context: true } : {}),
        prompt_ids: promptIds,
        n: job.n,
        ids: main,
        ...pieces(main),
        variants: {}
    };
    for (const v of variants.slice(1)) {
        const ids = byVariant[v.name];
        let k = 0;
        while (k < ids.length && ids[k] === main[k]) k++;
        entry.variants[v.name] = k === ids.length ? "same" : { first_diff: k, ids };
    }
    runs.push(entry);
    process.stderr.write(`greedy ${JSON.stringify(job.prompt)} n=${job.n}: ` +
        variants.slice(1).map((v) => `${v.name} ${entry.variants[v.name] === "same" ? "same" : "diff@" + entry.variants[v.name].first_diff}`).join(", ") + "\n");
}

const greedyDoc = {
    ...about,
    settings: {
        n_ctx: N_CTX, n_batch: N_BATCH, n_ubatch: N_BATCH, threads: THREADS, sequences: 1,
        flash_attention: "auto (enabled)", kv_cache: "f16",
        prompt: "decoded in one llama_decode; then one token per llama_decode",
        sampling: "argmax of the raw logits (lowest id on ties); no penalties; id 1 (<s>) is not an end token and generation continues through it"
    },
    // each run's "variants" says, per setting, "same" or where and how its ids differ
    variants: Object.fromEntries(variants.slice(1).map((v) => [v.name, v.what])),
    runs
};
fs.writeFileSync(path.join(outDir, "greedy.json"), formatJSON(greedyDoc));

// formatJSON indents like JSON.stringify(doc, null, 2) but keeps integer arrays on one line
function formatJSON(doc) {
    return JSON.stringify(doc, (k, v) => (Array.isArray(v) && v.every(Number.isInteger) ? `@@${JSON.stringify(v)}@@` : v), 2)
        .replace(/"@@(\[[^"]*\])@@"/g, "$1") + "\n";
}

// logits_once ----------------------------------------------------------------
// The main file comes from llamacpp.mjs (node-llama-cpp defaults); the f32 one
// (flash attention off, f32 K/V cache: no f16 rounding anywhere) is computed
// the same way, through controlledEvaluate with logits at every position.
const logitsPrompt = "Once upon a time, there was a little girl named Lily. She loved to play";
const logitsIds = tokenizeAll([logitsPrompt])[0].ids;
const binPath = path.join(outDir, "logits_once.bin");
const f32Path = path.join(outDir, "logits_once_f32.bin");
process.env.NODE_LLAMA_CPP_DIR = nlcDir;
run(process.execPath, [llamacppMjs, "logits", modelPath, "--tokens", logitsIds.join(","), "--positions", "all",
    "--threads", String(THREADS), "--ctx", String(N_CTX), "--batch", String(N_BATCH), "--out", binPath]);

async function allLogits(ids, { fa, kv }) {
    const ctx = await model.createContext({
        contextSize: N_CTX, batchSize: N_BATCH, sequences: 1,
        threads: { ideal: THREADS, min: THREADS },
        flashAttention: fa,
        experimentalKvCacheKeyType: kv, experimentalKvCacheValueType: kv
    });
    const res = await ctx.getSequence().controlledEvaluate(ids.map((t) => [t, { generateNext: { logits: true } }]));
    const out = new Float32Array(ids.length * nVocab);
    res.forEach((r, p) => out.set(toRow(r.next.logits), p * nVocab));
    await ctx.dispose();
    return out;
}

const readF32 = (p) => {
    const b = fs.readFileSync(p);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const maxAbsDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const mainLogits = readF32(binPath);
if (mainLogits.length !== logitsIds.length * nVocab) fail(`logits: ${mainLogits.length} values for ${logitsIds.length} positions`);
const logitsByVariant = {};
for (const v of variants) logitsByVariant[v.name] = await allLogits(logitsIds, v);
if (maxAbsDiff(mainLogits, logitsByVariant.fa_auto_kv_f16) !== 0) fail("llamacpp.mjs logits differ from controlledEvaluate's");
const f32Logits = logitsByVariant.fa_off_kv_f32;
fs.writeFileSync(f32Path, Buffer.from(f32Logits.buffer));

const argmaxes = (a) => logitsIds.map((_, p) => argmax(a.subarray(p * nVocab, (p + 1) * nVocab)));
const sha = (p) => crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex");
const logitsDoc = {
    ...about,
    prompt: logitsPrompt,
    ids: logitsIds,
    n_positions: logitsIds.length,
    n_vocab: nVocab,
    layout: "float32 little endian, [n_positions][n_vocab]; row p = logits after ids[0..p], all positions decoded in one llama_decode",
    file: "logits_once.bin",
    settings: { n_ctx: N_CTX, n_batch: N_BATCH, threads: THREADS, flash_attention: "auto (enabled)", kv_cache: "f16" },
    file_sha256: sha(binPath),
    argmax: argmaxes(mainLogits),
    f32: {
        file: "logits_once_f32.bin",
        settings: { n_ctx: N_CTX, n_batch: N_BATCH, threads: THREADS, flash_attention: "off", kv_cache: "f32" },
        file_sha256: sha(f32Path),
        argmax: argmaxes(f32Logits)
    },
    max_abs_diff: Object.fromEntries(variants.slice(1).map((v) => [`${variants[0].name} vs ${v.name}`, maxAbsDiff(mainLogits, logitsByVariant[v.name])]))
};
fs.writeFileSync(path.join(outDir, "logits_once.json"), formatJSON(logitsDoc));
process.stderr.write(`logits_once: ${logitsIds.length} x ${nVocab}, max |diff| ${JSON.stringify(logitsDoc.max_abs_diff)}\n`);

await model.dispose();
await llama.dispose();
