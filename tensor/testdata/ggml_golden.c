// ggml_golden.c writes ggml_golden.txt: checksums of what ggml's own
// quantizers, dequantizers and conversions produce for a fixed set of
// inputs, and the results of ggml's dot products. golden_test.go rebuilds
// the same inputs and checks the tensor package against them.
//
// It is not part of the build. To regenerate, link it against a ggml build
// (here the prebuilt x86-64 libraries of the npm package node-llama-cpp
// 3.22.1, llama.cpp de3ff81, zen4 CPU backend):
//
//	L=.../node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
//	gcc -O1 -o gen ggml_golden.c -L$L -l:libggml-base.so -l:libggml-cpu-zen4.so -lm -Wl,-rpath,$L
//	./gen > ggml_golden.txt
//
// Build it without -ffast-math or -march flags: the inputs are made with
// plain IEEE double arithmetic that the Go side repeats exactly.
// The input generator and the CRC-32 records, which ggml_golden2.c
// shares, are in ggml_golden.h.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void ggml_cpu_init(void);
void quantize_row_q4_0_ref(const float *x, void *y, int64_t k);
void quantize_row_q8_0_ref(const float *x, void *y, int64_t k);
void quantize_row_q4_K_ref(const float *x, void *y, int64_t k);
void quantize_row_q5_K_ref(const float *x, void *y, int64_t k);
void quantize_row_q6_K_ref(const float *x, void *y, int64_t k);
void quantize_row_q8_K_ref(const float *x, void *y, int64_t k);
void quantize_row_q8_0(const float *x, void *y, int64_t k);
void quantize_row_q8_K(const float *x, void *y, int64_t k);
void dequantize_row_q4_0(const void *x, float *y, int64_t k);
void dequantize_row_q8_0(const void *x, float *y, int64_t k);
void dequantize_row_q4_K(const void *x, float *y, int64_t k);
void dequantize_row_q5_K(const void *x, float *y, int64_t k);
void dequantize_row_q6_K(const void *x, float *y, int64_t k);
void dequantize_row_q8_K(const void *x, float *y, int64_t k);
void ggml_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n);
void ggml_fp32_to_bf16_row_ref(const float *x, uint16_t *y, int64_t n);
typedef void (*dot_fn)(int n, float *s, size_t bs, const void *x, size_t bx, const void *y, size_t by, int nrc);
void ggml_vec_dot_q4_0_q8_0(int, float *, size_t, const void *, size_t, const void *, size_t, int);
void ggml_vec_dot_q8_0_q8_0(int, float *, size_t, const void *, size_t, const void *, size_t, int);
void ggml_vec_dot_q4_K_q8_K(int, float *, size_t, const void *, size_t, const void *, size_t, int);
void ggml_vec_dot_q5_K_q8_K(int, float *, size_t, const void *, size_t, const void *, size_t, int);
void ggml_vec_dot_q6_K_q8_K(int, float *, size_t, const void *, size_t, const void *, size_t, int);

#include "ggml_golden.h"

int main(void) {
    crc_init();
    ggml_cpu_init();
    static float x[N], a[N], y[N];
    for (int b = 0; b < NB; b++) fill(x + 256 * b, b);
    for (int i = 0; i < N; i++) a[i] = (float)gauss();

    printf("# CRC-32 of ggml outputs for the inputs of golden_test.go; see ggml_golden.c\n");
    static uint16_t h[N];
    ggml_fp32_to_fp16_row(x, h, N);
    line("f16", h, sizeof h, 512);
    ggml_fp32_to_bf16_row_ref(x, h, N);
    line("bf16", h, sizeof h, 512);

    static uint8_t q[2 * N];
    struct {
        const char *name;
        void (*quant)(const float *, void *, int64_t);
        void (*dequant)(const void *, float *, int64_t);
        size_t bs, bb, d_off;
    } types[] = {
        {"q4_0", quantize_row_q4_0_ref, dequantize_row_q4_0, 32, 18, 0},
        {"q8_0", quantize_row_q8_0_ref, dequantize_row_q8_0, 32, 34, 0},
        {"q4_K", quantize_row_q4_K_ref, dequantize_row_q4_K, 256, 144, 0},
        {"q5_K", quantize_row_q5_K_ref, dequantize_row_q5_K, 256, 176, 0},
        {"q6_K", quantize_row_q6_K_ref, dequantize_row_q6_K, 256, 210, 208},
        {"q8_K", quantize_row_q8_K_ref, dequantize_row_q8_K, 256, 292, 0},
    };
    char name[64];
    for (int t = 0; t < 6; t++) {
        size_t n = N / types[t].bs * types[t].bb, bb = types[t].bb;
        memset(q, 0, sizeof q);
        types[t].quant(x, q, N);
        snprintf(name, sizeof name, "quantize/%s", types[t].name);
        line(name, q, n, bb);
        types[t].dequant(q, y, N);
        snprintf(name, sizeof name, "dequantize/%s", types[t].name);
        line(name, y, sizeof y, 1024);

        // Random blocks, to reach bit patterns the quantizer never makes;
        // scales are kept finite.
        for (size_t i = 0; i < n; i++) q[i] = (uint8_t)next();
        for (size_t b = 0; b < n / bb; b++) {
            uint8_t *p = q + b * bb;
            if (t == 5) {
                float d = (float)((int)(next() % 2001) - 1000) * 1e-5f;
                memcpy(p, &d, 4);
                continue;
            }
            p[types[t].d_off + 1] &= 0x3b;
            if (t == 2 || t == 3) p[3] &= 0x3b;
        }
        types[t].dequant(q, y, N);
        snprintf(name, sizeof name, "dequantize-random/%s", types[t].name);
        line(name, y, sizeof y, 1024);
    }

    // Activation quantizers as the CPU backend runs them (AVX on x86-64).
    memset(q, 0, sizeof q);
    quantize_row_q8_0(x, q, N);
    line("activation/q8_0", q, N / 32 * 34, 34);
    memset(q, 0, sizeof q);
    quantize_row_q8_K(a, q, N);
    line("activation/q8_K", q, N / 256 * 292, 292);

    // Dot products, rows of 1024: the quantized inputs as weights against
    // the quantized second input, with ggml's x86 kernels.
    static uint8_t w[2 * N], act[2 * N];
    struct {
        const char *name;
        void (*quant)(const float *, void *, int64_t);
        dot_fn dot;
        size_t bs, bb, kquant;
    } dots[] = {
        {"q4_0", quantize_row_q4_0_ref, ggml_vec_dot_q4_0_q8_0, 32, 18, 0},
        {"q8_0", quantize_row_q8_0_ref, ggml_vec_dot_q8_0_q8_0, 32, 34, 0},
        {"q4_K", quantize_row_q4_K_ref, ggml_vec_dot_q4_K_q8_K, 256, 144, 1},
        {"q5_K", quantize_row_q5_K_ref, ggml_vec_dot_q5_K_q8_K, 256, 176, 1},
        {"q6_K", quantize_row_q6_K_ref, ggml_vec_dot_q6_K_q8_K, 256, 210, 1},
    };
    const int rowlen = 1024;
    for (int t = 0; t < 5; t++) {
        dots[t].quant(x, w, N);
        size_t arow;
        if (dots[t].kquant) {
            quantize_row_q8_K(a, act, N);
            arow = rowlen / 256 * 292;
        } else {
            quantize_row_q8_0(a, act, N);
            arow = rowlen / 32 * 34;
        }
        size_t wrow = rowlen / dots[t].bs * dots[t].bb;
        printf("dot/%s", dots[t].name);
        for (int r = 0; r < N / rowlen; r++) {
            float s;
            dots[t].dot(rowlen, &s, 0, w + r * wrow, 0, act + r * arow, 0, 1);
            printf(" %.9g", s);
        }
        printf("\n");
    }
    return 0;
}
