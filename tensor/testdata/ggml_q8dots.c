// ggml_q8dots.c writes ggml_q8dots.txt: the Q8_0×Q8_0, Q4_0×Q8_0 and
// Q4_K×Q8_K dot products that llama.cpp's x86 CPU backend computes for
// deterministic pseudo-random inputs, which simd_test.go regenerates and
// compares bit for bit with the accelerated kernels.
//
// It calls the kernels llama.cpp runs on a Zen 4 CPU, from the prebuilt
// libggml-cpu-zen4.so of node-llama-cpp 3.22.1 (llama.cpp de3ff81):
// ggml_vec_dot_q8_0_q8_0 for Q8_0 weights (llamafile_sgemm, used for
// several tokens, gives the same bits), and for Q4_0 the repacked 8×8
// kernels: ggml_gemv_q4_0_8x8_q8_0 per token and ggml_gemm_q4_0_8x8_q8_0
// for four tokens (they agree), and for Q4_K the repacked
// ggml_gemv_q4_K_8x8_q8_K that token generation runs (its gemm, for four
// tokens and more, sums in another order). Activations are quantized with
// the CPU backend's own quantize_row_q8_0 and quantize_row_q8_K.
//
//   gcc -O1 -I<llama.cpp>/ggml/include ggml_q8dots.c -o /tmp/q8dots -ldl
//   /tmp/q8dots .../bins/linux-x64/libggml-cpu-zen4.so > ggml_q8dots.txt
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ggml.h" // struct ggml_tensor, for the Q4_K repacking

enum { NR = 8, NB = 64, NT = 5, N = NB * 32 };

typedef void (*from_float_t)(const float *, void *, int64_t);
typedef void (*vec_dot_t)(int, float *, size_t, const void *, size_t, const void *, size_t, int);
struct traits { from_float_t from_float; vec_dot_t vec_dot; int vec_dot_type; int64_t nrows; };
typedef const struct traits *(*get_traits_t)(int);
typedef void (*gemx_t)(int, float *, size_t, const void *, const void *, int, int);
typedef void (*qmat_t)(const float *, void *, int64_t);
typedef int (*repack_t)(void *, struct ggml_tensor *, const void *, size_t);

// xorshift64; the Go test uses the same generator.
static uint64_t state = 88172645463325252ull;
static uint32_t next(void) {
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (uint32_t)state;
}

// gauss is a sum of six uniforms, exact in float32.
static float gauss(void) {
	float s = 0;
	for (int i = 0; i < 6; i++) {
		s += (float)(next() & 0xffff) / 65536.0f;
	}
	return s - 3.0f;
}

static uint16_t scale(uint16_t base) {
	uint16_t mag = base + next() % 0x1800;
	uint16_t sign = (next() & 1) << 15;
	return mag | sign;
}

static uint8_t w4[NR][NB * 18], w8[NR][NB * 34], xq[NT][NB * 34], packed[NB][144], xq4[4 * NB * 34];
static uint8_t wk[NR][N / 256 * 144], packedK[NR * N / 256 * 144], xk[NT][N / 256 * 292];
static float xf[NT][N];

int main(int argc, char **argv) {
	void *lib = dlopen(argv[1], RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	((void (*)(void))dlsym(lib, "ggml_cpu_init"))();
	from_float_t quant = ((get_traits_t)dlsym(lib, "ggml_get_type_traits_cpu"))(8)->from_float;
	vec_dot_t dot8 = (vec_dot_t)dlsym(lib, "ggml_vec_dot_q8_0_q8_0");
	gemx_t gemv4 = (gemx_t)dlsym(lib, "ggml_gemv_q4_0_8x8_q8_0");
	gemx_t gemm4 = (gemx_t)dlsym(lib, "ggml_gemm_q4_0_8x8_q8_0");
	qmat_t quant4 = (qmat_t)dlsym(lib, "ggml_quantize_mat_q8_0_4x8");

	for (int r = 0; r < NR; r++) {
		for (int b = 0; b < NB; b++) {
			uint16_t d4 = scale(0x2000), d8 = scale(0x1c00);
			memcpy(&w4[r][b * 18], &d4, 2);
			memcpy(&w8[r][b * 34], &d8, 2);
			for (int j = 0; j < 16; j++) w4[r][b * 18 + 2 + j] = next();
			for (int j = 0; j < 32; j++) w8[r][b * 34 + 2 + j] = next();
		}
	}
	for (int t = 0; t < NT; t++) {
		for (int i = 0; i < N; i++) xf[t][i] = gauss() * (float)(1 + i % 97);
		quant(xf[t], xq[t], N);
	}

	// block_q4_0x8: the eight rows' scales, then 16 chunks of 8 bytes,
	// chunk i from row i%8 at byte (i/8)*8, nibbles XOR 0x88.
	for (int b = 0; b < NB; b++) {
		for (int r = 0; r < 8; r++) memcpy(&packed[b][2 * r], &w4[r][b * 18], 2);
		for (int i = 0; i < 16; i++) {
			uint64_t e;
			memcpy(&e, &w4[i % 8][b * 18 + 2 + (i / 8) * 8], 8);
			e ^= 0x8888888888888888ull;
			memcpy(&packed[b][16 + 8 * i], &e, 8);
		}
	}
	float o8[NT][NR], o4[NT][NR], o4m[4][NR];
	for (int t = 0; t < NT; t++) {
		for (int r = 0; r < NR; r++) dot8(N, &o8[t][r], 0, w8[r], 0, xq[t], 0, 1);
		gemv4(N, o4[t], 0, packed, xq[t], 1, 8);
	}
	quant4(&xf[0][0], xq4, N);
	gemm4(N, &o4m[0][0], NR, packed, xq4, 4, 8);
	for (int t = 0; t < 4; t++) {
		if (memcmp(o4m[t], o4[t], sizeof o4[t]) != 0) {
			fprintf(stderr, "gemm and gemv differ\n");
			return 1;
		}
	}

	// Q4_K: random bytes with finite fp16 d and dmin, repacked by the
	// backend's own repack function (a member of a stateless class).
	for (int r = 0; r < NR; r++) {
		for (int i = 0; i < N / 256 * 144; i++) wk[r][i] = next();
		for (int b = 0; b < N / 256; b++) {
			wk[r][b * 144 + 1] &= 0x3b;
			wk[r][b * 144 + 3] &= 0x3b;
		}
	}
	from_float_t quantK = ((get_traits_t)dlsym(lib, "ggml_get_type_traits_cpu"))(15)->from_float;
	for (int t = 0; t < NT; t++) quantK(xf[t], xk[t], N);
	repack_t repackK = (repack_t)dlsym(lib, "_ZN4ggml3cpu6repack13tensor_traitsI10block_q4_KLl8ELl8EL9ggml_type15EE6repackEP11ggml_tensorPKvm");
	gemx_t gemvK = (gemx_t)dlsym(lib, "ggml_gemv_q4_K_8x8_q8_K");
	struct ggml_tensor tk;
	memset(&tk, 0, sizeof tk);
	tk.type = GGML_TYPE_Q4_K;
	tk.ne[0] = N, tk.ne[1] = NR, tk.ne[2] = tk.ne[3] = 1;
	tk.data = packedK;
	char self[64] = {0};
	if (repackK(self, &tk, wk, sizeof wk) != 0) {
		fprintf(stderr, "Q4_K repack failed\n");
		return 1;
	}
	float oK[NT][NR];
	for (int t = 0; t < NT; t++) gemvK(N, oK[t], 0, packedK, xk[t], 1, NR);
	printf("# type token row float32-bits (ggml_q8dots.c)\n");
	for (int t = 0; t < NT; t++) {
		for (int r = 0; r < NR; r++) {
			uint32_t a, b;
			memcpy(&a, &o8[t][r], 4);
			memcpy(&b, &o4[t][r], 4);
			printf("q8_0 %d %d %08x\nq4_0 %d %d %08x\n", t, r, a, t, r, b);
			memcpy(&a, &oK[t][r], 4);
			printf("q4_k %d %d %08x\n", t, r, a);
		}
	}
	return 0;
}
