// gen_llamacpp.mjs writes llamacpp_llama3.json and llamacpp_qwen3.json: the
// token ids that llama.cpp itself gives for the strings of llama3.json and
// qwen3.json, from GGUF files converted from the same tokenizers. See
// README.md.
//
// Usage:
//   NODE_LLAMA_CPP_DIR=/tmp/peers/node_modules \
//     node testdata/tokenizers/gen_llamacpp.mjs LLAMA3.gguf QWEN3.gguf
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const base = process.env.NODE_LLAMA_CPP_DIR ?? "/tmp/peers/node_modules";
const pkgDir = path.join(base, "node-llama-cpp");
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8"));
const info = JSON.parse(fs.readFileSync(path.join(pkgDir, "llama", "llama.cpp.info.json"), "utf8"));
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(path.join(pkgDir, "dist", "index.js")).href);

const [llama3File, qwen3File] = process.argv.slice(2);
if (!llama3File || !qwen3File) {
  console.error("usage: gen_llamacpp.mjs LLAMA3.gguf QWEN3.gguf");
  process.exit(2);
}

const llama = await getLlama({
  gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
  progressLogs: false, logLevel: LlamaLogLevel.error,
});

for (const [name, file] of [["llama3", llama3File], ["qwen3", qwen3File]]) {
  const ref = JSON.parse(fs.readFileSync(path.join(here, name + ".json"), "utf8"));
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const cases = ref.cases.map(({ text }) => ({
    text,
    // llama_tokenize with add_special = false, parse_special = true / false
    ids_special: Array.from(model.tokenize(text, true), Number),
    ids_plain: Array.from(model.tokenize(text, false), Number),
  }));
  const head = JSON.stringify({
    tokenizer: name,
    generator: `testdata/tokenizers/gen_llamacpp.mjs with node-llama-cpp ${pkg.version} (llama.cpp ${info.tag}), node ${process.version}`,
    gguf: path.basename(file),
  }, null, 1).replace(/\n}$/, "");
  fs.writeFileSync(path.join(here, `llamacpp_${name}.json`), `${head},\n "cases": [\n${cases.map((c) => JSON.stringify(c)).join(",\n")}\n]}\n`);
  console.log(`${name}: ${cases.length} cases`);
  await model.dispose();
}
