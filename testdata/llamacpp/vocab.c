// vocab: llama.cpp tokenizer reference output, through the public llama.h API
// of the prebuilt libllama that node-llama-cpp ships (vocabulary only; no
// weights are loaded).
//
//   vocab tokenize MODEL   stdin: one hex-encoded UTF-8 string per line
//                          stdout per line: IDS|IDS_SPECIAL|DECODED_HEX where
//                          IDS = llama_tokenize(add_special=true, parse_special=false),
//                          IDS_SPECIAL = llama_tokenize(add_special=true, parse_special=true),
//                          DECODED = llama_detokenize(IDS without its leading BOS,
//                          remove_special=true, unparse_special=false)
//   vocab pieces MODEL IDS stdout: two lines of comma-separated hex pieces,
//                          llama_token_to_piece(id, lstrip=0, special=false), then special=true
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *ud) {
    (void) ud;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static void die(const char *msg) {
    fprintf(stderr, "vocab: %s\n", msg);
    exit(2);
}

static void put_hex(const char *s, int n) {
    for (int i = 0; i < n; i++) printf("%02x", (unsigned char) s[i]);
}

static int unhex(const char *h, char *out) {
    int n = 0;
    for (; h[0] && h[1] && h[0] != '\n'; h += 2) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1) die("bad hex input");
        out[n++] = (char) v;
    }
    return n;
}

static void put_ids(const llama_token *t, int n) {
    for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", t[i]);
}

int main(int argc, char **argv) {
    if (argc < 3) die("usage: vocab tokenize|pieces MODEL [IDS]");
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *model = llama_model_load_from_file(argv[2], mp);
    if (!model) die("cannot load model");
    const struct llama_vocab *vocab = llama_model_get_vocab(model);

    enum { MAXB = 1 << 16 };
    static char line[2 * MAXB + 2], text[MAXB], out[4 * MAXB];
    static llama_token ids[MAXB], ids2[MAXB];
    if (!strcmp(argv[1], "tokenize")) {
        while (fgets(line, sizeof line, stdin)) {
            int n = unhex(line, text);
            int k = llama_tokenize(vocab, text, n, ids, MAXB, true, false);
            int k2 = llama_tokenize(vocab, text, n, ids2, MAXB, true, true);
            if (k < 0 || k2 < 0) die("too many tokens");
            // decode the text tokens only: with a leading BOS, llama_detokenize
            // keeps the space that the tokenizer prefixed to the text
            int skip = k > 0 && ids[0] == llama_vocab_bos(vocab);
            int d = llama_detokenize(vocab, ids + skip, k - skip, out, sizeof out, true, false);
            if (d < 0) die("detokenize buffer too small");
            put_ids(ids, k);
            putchar('|');
            put_ids(ids2, k2);
            putchar('|');
            put_hex(out, d);
            putchar('\n');
        }
    } else if (!strcmp(argv[1], "pieces")) {
        if (argc < 4) die("pieces needs IDS");
        int n = 0;
        for (char *p = strtok(argv[3], ","); p; p = strtok(NULL, ",")) ids[n++] = atoi(p);
        for (int special = 0; special < 2; special++) {
            for (int i = 0; i < n; i++) {
                int m = llama_token_to_piece(vocab, ids[i], out, sizeof out, 0, special);
                if (m < 0) die("piece buffer too small");
                if (i) putchar(',');
                put_hex(out, m);
            }
            putchar('\n');
        }
    } else {
        die("mode must be tokenize or pieces");
    }
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
