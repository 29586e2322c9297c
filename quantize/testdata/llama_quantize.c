// llama_quantize.c quantizes a GGUF file with llama.cpp's own
// llama_model_quantize, as llama-quantize does without an importance
// matrix, so that write_test.go can compare Joule's output with it.
//
// It is not part of the build. Build it against the headers of the
// llama.cpp commit node-llama-cpp 3.22.1 bundles (de3ff81) and link its
// prebuilt libllama:
//
//	L=.../node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
//	gcc -O1 -I<llama.cpp>/include -I<llama.cpp>/ggml/include -o llq llama_quantize.c \
//	    -L$L -l:libllama.v0.5.0.so -l:libggml-base.so -Wl,-rpath,$L
//	./llq IN.gguf OUT.gguf FTYPE-NUMBER
#include <stdio.h>
#include <stdlib.h>

#include "llama.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s IN.gguf OUT.gguf FTYPE\n", argv[0]);
        return 2;
    }
    llama_backend_init();
    llama_model_quantize_params p = llama_model_quantize_default_params();
    p.ftype = (enum llama_ftype)atoi(argv[3]);
    p.nthread = 1;
    uint32_t rc = llama_model_quantize(argv[1], argv[2], &p);
    llama_backend_free();
    return rc != 0;
}
