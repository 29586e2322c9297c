// ggml_golden.h holds what ggml_golden.c and ggml_golden2.c share: the
// input generator that golden_test.go repeats, the inputs' kinds, and the
// CRC-32 records they print.
#include <stdint.h>
#include <stdio.h>

// xorshift64*; the Go side has the same generator.
static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ull;
}
static double unif(void) { return (double)(next() >> 11) * (1.0 / 9007199254740992.0); }
// Roughly normal: a scaled sum of four uniforms, exact-rounded IEEE steps only.
static double gauss(void) {
    double s = unif();
    s += unif();
    s += unif();
    s += unif();
    return (s - 2) * 1.7320508075688772;
}

#define NB 16 // blocks of 256, one kind of input each
#define N (NB * 256)

static void fill(float *y, int kind) {
    for (int i = 0; i < 256; i++) {
        double g = gauss(), u = unif() * 2 - 1;
        float v;
        switch (kind) {
        case 0: v = (float)g; break;
        case 1: v = (float)(0.02 * g); break;
        case 2: v = (float)u; break;
        case 3: v = 0; break;
        case 4: v = 0.5f; break;
        case 5: v = -3.0f; break;
        case 6: v = (float)(i % 37 == 5 ? 100 * g : g); break;           // outliers
        case 7: v = (float)(1e-6 * g); break;                              // fp16 subnormal scales
        case 8: v = i % 3 == 0 ? (i % 2 ? -65504.0f : 65504.0f) : (float)(60000 * u); break;
        case 9: v = (float)unif(); break;                                  // positive only
        case 10: v = (float)(-4 * unif()); break;                          // negative only
        case 11: v = i % 29 == 3 ? (float)g : 0; break;                    // sparse
        case 12: v = 0.25f * (float)((int)(next() % 33) - 16); break;      // exact ties
        case 13: v = (float)(1e-3 * g + 0.01); break;                      // offset
        case 14: v = (i / 32) % 2 ? (float)g : 0; break;                   // zero sub-blocks
        default: v = (float)(10 * g); break;
        }
        y[i] = v;
    }
}

static uint32_t crc_table[256];
static uint32_t crc32(const void *p, size_t n) {
    const uint8_t *b = p;
    uint32_t c = 0xffffffffu;
    while (n--) c = crc_table[(c ^ *b++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

// line prints one record: the CRC-32 (IEEE) of each group of size bytes.
static void line(const char *name, const void *p, size_t n, size_t size) {
    printf("%s %zu", name, size);
    for (size_t i = 0; i < n; i += size) printf(" %08x", crc32((const uint8_t *)p + i, size));
    printf("\n");
}

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}
