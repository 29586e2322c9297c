// ggml_golden2.c writes ggml_golden2.txt: checksums of what ggml's
// quantizers and dequantizers produce for the types beyond the core set
// (Q4_1, Q5_0, Q5_1, Q8_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS), the x86 Q8_1
// activation quantizer, and the results of ggml's x86 dot products for
// them. It uses the inputs of ggml_golden.c, which golden_test.go and
// golden2_test.go rebuild.
//
// It is not part of the build. To regenerate, link it against the same
// ggml build as ggml_golden.c (node-llama-cpp 3.22.1's prebuilt x86-64
// libraries, llama.cpp de3ff81, zen4 CPU backend):
//
//	L=.../node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
//	gcc -O1 -o gen2 ggml_golden2.c -L$L -l:libggml-base.so -l:libggml-cpu-zen4.so -lm -Wl,-rpath,$L
//	./gen2 > ggml_golden2.txt
//
// Build it without -ffast-math or -march flags.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void ggml_cpu_init(void);
typedef void (*quant_fn)(const float *, void *, int64_t);
typedef void (*dequant_fn)(const void *, float *, int64_t);
typedef void (*dot_fn)(int, float *, size_t, const void *, size_t, const void *, size_t, int);

void quantize_row_q4_1_ref(const float *, void *, int64_t);
void quantize_row_q5_0_ref(const float *, void *, int64_t);
void quantize_row_q5_1_ref(const float *, void *, int64_t);
void quantize_row_q8_1_ref(const float *, void *, int64_t);
void quantize_row_q2_K_ref(const float *, void *, int64_t);
void quantize_row_q3_K_ref(const float *, void *, int64_t);
size_t quantize_iq4_nl(const float *, void *, int64_t nrow, int64_t n_per_row, const float *imatrix);
size_t quantize_iq4_xs(const float *, void *, int64_t nrow, int64_t n_per_row, const float *imatrix);
void dequantize_row_q4_1(const void *, float *, int64_t);
void dequantize_row_q5_0(const void *, float *, int64_t);
void dequantize_row_q5_1(const void *, float *, int64_t);
void dequantize_row_q2_K(const void *, float *, int64_t);
void dequantize_row_q3_K(const void *, float *, int64_t);
void dequantize_row_iq4_nl(const void *, float *, int64_t);
void dequantize_row_iq4_xs(const void *, float *, int64_t);
// The CPU backend's activation quantizers (x86 versions).
void quantize_row_q8_0(const float *, void *, int64_t);
void quantize_row_q8_1(const float *, void *, int64_t);
void quantize_row_q8_K(const float *, void *, int64_t);
void ggml_vec_dot_q4_1_q8_1(int, float *, size_t, const void *, size_t, const void *, size_t, int);
void ggml_vec_dot_q5_0_q8_0(int, float *, size_t, const void *, size_t, const void *, size_t, int);
void ggml_vec_dot_q5_1_q8_1(int, float *, size_t, const void *, size_t, const void *, size_t, int);
void ggml_vec_dot_q2_K_q8_K(int, float *, size_t, const void *, size_t, const void *, size_t, int);
void ggml_vec_dot_q3_K_q8_K(int, float *, size_t, const void *, size_t, const void *, size_t, int);
void ggml_vec_dot_iq4_nl_q8_0(int, float *, size_t, const void *, size_t, const void *, size_t, int);
void ggml_vec_dot_iq4_xs_q8_K(int, float *, size_t, const void *, size_t, const void *, size_t, int);

static void quant_iq4_nl(const float *x, void *y, int64_t k) { quantize_iq4_nl(x, y, 1, k, NULL); }
static void quant_iq4_xs(const float *x, void *y, int64_t k) { quantize_iq4_xs(x, y, 1, k, NULL); }

#include "ggml_golden.h"

int main(void) {
    crc_init();
    ggml_cpu_init();
    static float x[N], a[N], y[N];
    for (int b = 0; b < NB; b++) fill(x + 256 * b, b);
    for (int i = 0; i < N; i++) a[i] = (float)gauss();

    printf("# CRC-32 of ggml outputs for the inputs of golden2_test.go; see ggml_golden2.c\n");
    static uint8_t q[2 * N];
    // d_off and m_off locate the fp16 scales that random blocks keep
    // finite (-1: none). A type without dequant has no random blocks.
    struct {
        const char *name;
        quant_fn quant;
        dequant_fn dequant;
        size_t bs, bb;
        int d_off, m_off;
    } types[] = {
        {"q4_1", quantize_row_q4_1_ref, dequantize_row_q4_1, 32, 20, 0, 2},
        {"q5_0", quantize_row_q5_0_ref, dequantize_row_q5_0, 32, 22, 0, -1},
        {"q5_1", quantize_row_q5_1_ref, dequantize_row_q5_1, 32, 24, 0, 2},
        {"q8_1", quantize_row_q8_1_ref, NULL, 32, 36, 0, 2},
        {"q2_K", quantize_row_q2_K_ref, dequantize_row_q2_K, 256, 84, 80, 82},
        {"q3_K", quantize_row_q3_K_ref, dequantize_row_q3_K, 256, 110, 108, -1},
        {"iq4_nl", quant_iq4_nl, dequantize_row_iq4_nl, 32, 18, 0, -1},
        {"iq4_xs", quant_iq4_xs, dequantize_row_iq4_xs, 256, 136, 0, -1},
    };
    const int ntypes = sizeof types / sizeof types[0];
    char name[64];
    for (int t = 0; t < ntypes; t++) {
        size_t n = N / types[t].bs * types[t].bb, bb = types[t].bb;
        memset(q, 0, sizeof q);
        types[t].quant(x, q, N);
        snprintf(name, sizeof name, "quantize/%s", types[t].name);
        line(name, q, n, bb);
        if (!types[t].dequant) continue;
        types[t].dequant(q, y, N);
        snprintf(name, sizeof name, "dequantize/%s", types[t].name);
        line(name, y, sizeof y, 1024);

        for (size_t i = 0; i < n; i++) q[i] = (uint8_t)next();
        for (size_t b = 0; b < n / bb; b++) {
            uint8_t *p = q + b * bb;
            p[types[t].d_off + 1] &= 0x3b;
            if (types[t].m_off >= 0) p[types[t].m_off + 1] &= 0x3b;
        }
        types[t].dequant(q, y, N);
        snprintf(name, sizeof name, "dequantize-random/%s", types[t].name);
        line(name, y, sizeof y, 1024);
    }

    memset(q, 0, sizeof q);
    quantize_row_q8_1(a, q, N);
    line("activation/q8_1", q, N / 32 * 36, 36);

    // Dot products: the quantized inputs as weights against the quantized
    // second input, rows of 1024, and for the 32-element types also rows
    // of 992 (31 blocks, an odd count) starting at the same places.
    static uint8_t w[2 * N], act[2 * N];
    struct {
        const char *name;
        quant_fn quant, act;
        dot_fn dot;
        size_t bs, bb, ab;
    } dots[] = {
        {"q4_1", quantize_row_q4_1_ref, quantize_row_q8_1, ggml_vec_dot_q4_1_q8_1, 32, 20, 36},
        {"q5_0", quantize_row_q5_0_ref, quantize_row_q8_0, ggml_vec_dot_q5_0_q8_0, 32, 22, 34},
        {"q5_1", quantize_row_q5_1_ref, quantize_row_q8_1, ggml_vec_dot_q5_1_q8_1, 32, 24, 36},
        {"q2_K", quantize_row_q2_K_ref, quantize_row_q8_K, ggml_vec_dot_q2_K_q8_K, 256, 84, 292},
        {"q3_K", quantize_row_q3_K_ref, quantize_row_q8_K, ggml_vec_dot_q3_K_q8_K, 256, 110, 292},
        {"iq4_nl", quant_iq4_nl, quantize_row_q8_0, ggml_vec_dot_iq4_nl_q8_0, 32, 18, 34},
        {"iq4_xs", quant_iq4_xs, quantize_row_q8_K, ggml_vec_dot_iq4_xs_q8_K, 256, 136, 292},
    };
    const int ndots = sizeof dots / sizeof dots[0];
    const int rowlen = 1024;
    for (int t = 0; t < ndots; t++) {
        dots[t].quant(x, w, N);
        dots[t].act(a, act, N);
        size_t wrow = rowlen / dots[t].bs * dots[t].bb, arow = rowlen / dots[t].bs * dots[t].ab;
        printf("dot/%s", dots[t].name);
        for (int r = 0; r < N / rowlen; r++) {
            float s;
            dots[t].dot(rowlen, &s, 0, w + r * wrow, 0, act + r * arow, 0, 1);
            printf(" %.9g", s);
        }
        printf("\n");
        if (dots[t].bs != 32) continue;
        printf("dot-odd/%s", dots[t].name);
        for (int r = 0; r < N / rowlen; r++) {
            float s;
            dots[t].dot(rowlen - 32, &s, 0, w + r * wrow, 0, act + r * arow, 0, 1);
            printf(" %.9g", s);
        }
        printf("\n");
    }
    return 0;
}
