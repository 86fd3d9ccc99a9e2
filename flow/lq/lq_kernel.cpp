// Bitwise CPU kernels for LQ/binary dense layers and the plain fp32 loop they are compared with.
// Built by flow.lq.cpu with g++ -O3 -ffp-contract=off and NO -march: the XNOR-popcount inner loop has
// one implementation per instruction set (portable __builtin_popcountll, scalar POPCNT, AVX2 with a
// nibble-table popcount, AVX-512 VPOPCNTDQ), each compiled with its own target attribute in this one
// translation unit, and the caller picks one by index (lq_paths() says which this CPU runs).
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#define LQ_EXPORT extern "C" __attribute__((visibility("default")))

// x (batch, n) -> planes (batch, K, words): code of the nearest level, bit p = plane p.
// Levels are sorted; thresholds[l] = midpoint between level l and l + 1; codes[l] = code of level l.
template <class T>
static void encode_planes(const T *x, int batch, int n, const double *thresholds, const int32_t *codes, int n_levels,
                          int k, uint64_t *planes) {
    const int words = (n + 63) / 64;
    for (int b = 0; b < batch; b++) {
        const T *xb = x + (size_t)b * n;
        uint64_t *pb = planes + (size_t)b * k * words;
        for (int w = 0; w < words; w++) {
            uint64_t bits[32] = {0};
            const int end = n - w * 64 < 64 ? n - w * 64 : 64;
            for (int s = 0; s < end; s++) {
                const double v = xb[w * 64 + s];
                int l = 0; // thresholds ascend: the number at or below v is the level (ties go up)
                for (int t = 0; t < n_levels - 1; t++)
                    l += v >= thresholds[t];
                const uint32_t code = (uint32_t)codes[l];
                for (int p = 0; p < k && p < 32; p++)
                    bits[p] |= (uint64_t)((code >> p) & 1u) << s;
            }
            for (int p = 0; p < k; p++)
                pb[p * words + w] = p < 32 ? bits[p] : 0;
        }
    }
}

LQ_EXPORT void lq_encode(const float *x, int batch, int n, const double *thresholds, const int32_t *codes, int n_levels,
                         int k, uint64_t *planes) {
    encode_planes(x, batch, n, thresholds, codes, n_levels, k, planes);
}

#if defined(__x86_64__) || defined(__i386__)
#define LQ_X86 1
#include <immintrin.h>
#endif

// Paths, in the order of flow.lq.cpu.PATHS: 0 portable, 1 popcnt, 2 avx2, 3 avx512.
enum { LQ_PORTABLE = 0, LQ_POPCNT = 1, LQ_AVX2 = 2, LQ_AVX512 = 3, LQ_N_PATHS = 4 };

// Bit p set: this CPU runs path p.
static int detect_paths() {
    int mask = 1 << LQ_PORTABLE;
#ifdef LQ_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt"))
        mask |= 1 << LQ_POPCNT;
    if (__builtin_cpu_supports("avx2"))
        mask |= 1 << LQ_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vpopcntdq"))
        mask |= 1 << LQ_AVX512;
#endif
    return mask;
}

LQ_EXPORT int lq_paths() {
    static const int mask = detect_paths();
    return mask;
}

// pop4: popcount(x ^ w_t) over `words` words for four weight rows w + t * stride; pop1: one row.
#define LQ_NOTARGET
#define LQ_SCALAR_POPS(NS, TARGET)                                                                                     \
    namespace NS {                                                                                                     \
    TARGET static inline void pop4(const uint64_t *x, const uint64_t *w, size_t stride, int words, int *pop) {         \
        int p0 = 0, p1 = 0, p2 = 0, p3 = 0;                                                                            \
        for (int i = 0; i < words; i++) {                                                                              \
            const uint64_t v = x[i];                                                                                   \
            p0 += __builtin_popcountll(v ^ w[i]);                                                                      \
            p1 += __builtin_popcountll(v ^ w[stride + i]);                                                             \
            p2 += __builtin_popcountll(v ^ w[2 * stride + i]);                                                         \
            p3 += __builtin_popcountll(v ^ w[3 * stride + i]);                                                         \
        }                                                                                                              \
        pop[0] = p0, pop[1] = p1, pop[2] = p2, pop[3] = p3;                                                            \
    }                                                                                                                  \
    TARGET static inline int pop1(const uint64_t *x, const uint64_t *w, int words) {                                   \
        int p = 0;                                                                                                     \
        for (int i = 0; i < words; i++)                                                                                \
            p += __builtin_popcountll(x[i] ^ w[i]);                                                                    \
        return p;                                                                                                      \
    }                                                                                                                  \
    }

LQ_SCALAR_POPS(portable, LQ_NOTARGET)
#ifdef LQ_X86
#define LQ_T_POPCNT __attribute__((target("popcnt")))
#define LQ_T_AVX2 __attribute__((target("avx2")))
#define LQ_T_AVX512 __attribute__((target("avx512f,avx512dq,avx512vpopcntdq")))
LQ_SCALAR_POPS(popcnt, LQ_T_POPCNT)

namespace avx2 {
// per 64-bit lane: popcount through a 16-entry nibble table (vpshufb) and a byte sum (vpsadbw)
LQ_T_AVX2 static inline __m256i popcount(__m256i v) {
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2,
                                           2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    const __m256i bytes = _mm256_add_epi8(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi));
    return _mm256_sad_epu8(bytes, _mm256_setzero_si256());
}
LQ_T_AVX2 static inline int hsum(__m256i v) {
    const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (int)(_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1));
}
LQ_T_AVX2 static inline __m256i tail_mask(int rem) { // lanes < rem (1..3) set
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(rem), _mm256_setr_epi64x(0, 1, 2, 3));
}
LQ_T_AVX2 static inline void pop4(const uint64_t *x, const uint64_t *w, size_t stride, int words, int *pop) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 4 <= words; i += 4) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
        a0 = _mm256_add_epi64(a0, popcount(_mm256_xor_si256(v, _mm256_loadu_si256((const __m256i *)(w + i)))));
        a1 = _mm256_add_epi64(a1, popcount(_mm256_xor_si256(v, _mm256_loadu_si256((const __m256i *)(w + stride + i)))));
        a2 = _mm256_add_epi64(a2, popcount(_mm256_xor_si256(v, _mm256_loadu_si256((const __m256i *)(w + 2 * stride + i)))));
        a3 = _mm256_add_epi64(a3, popcount(_mm256_xor_si256(v, _mm256_loadu_si256((const __m256i *)(w + 3 * stride + i)))));
    }
    if (i < words) {
        const __m256i m = tail_mask(words - i);
        const __m256i v = _mm256_maskload_epi64((const long long *)(x + i), m);
        a0 = _mm256_add_epi64(a0, popcount(_mm256_xor_si256(v, _mm256_maskload_epi64((const long long *)(w + i), m))));
        a1 = _mm256_add_epi64(a1, popcount(_mm256_xor_si256(v, _mm256_maskload_epi64((const long long *)(w + stride + i), m))));
        a2 = _mm256_add_epi64(a2, popcount(_mm256_xor_si256(v, _mm256_maskload_epi64((const long long *)(w + 2 * stride + i), m))));
        a3 = _mm256_add_epi64(a3, popcount(_mm256_xor_si256(v, _mm256_maskload_epi64((const long long *)(w + 3 * stride + i), m))));
    }
    pop[0] = hsum(a0), pop[1] = hsum(a1), pop[2] = hsum(a2), pop[3] = hsum(a3);
}
LQ_T_AVX2 static inline int pop1(const uint64_t *x, const uint64_t *w, int words) {
    __m256i a = _mm256_setzero_si256();
    int i = 0;
    for (; i + 4 <= words; i += 4)
        a = _mm256_add_epi64(a, popcount(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(x + i)),
                                                          _mm256_loadu_si256((const __m256i *)(w + i)))));
    if (i < words) {
        const __m256i m = tail_mask(words - i);
        a = _mm256_add_epi64(a, popcount(_mm256_xor_si256(_mm256_maskload_epi64((const long long *)(x + i), m),
                                                          _mm256_maskload_epi64((const long long *)(w + i), m))));
    }
    return hsum(a);
}
} // namespace avx2

namespace avx512 {
LQ_T_AVX512 static inline __m512i xpop(__m512i v, const uint64_t *w, __mmask8 m) {
    return _mm512_popcnt_epi64(_mm512_xor_si512(v, _mm512_maskz_loadu_epi64(m, w)));
}
LQ_T_AVX512 static inline void pop4(const uint64_t *x, const uint64_t *w, size_t stride, int words, int *pop) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (int i = 0; i < words; i += 8) {
        const __mmask8 m = words - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (words - i)) - 1);
        const __m512i v = _mm512_maskz_loadu_epi64(m, x + i);
        a0 = _mm512_add_epi64(a0, xpop(v, w + i, m));
        a1 = _mm512_add_epi64(a1, xpop(v, w + stride + i, m));
        a2 = _mm512_add_epi64(a2, xpop(v, w + 2 * stride + i, m));
        a3 = _mm512_add_epi64(a3, xpop(v, w + 3 * stride + i, m));
    }
    pop[0] = (int)_mm512_reduce_add_epi64(a0), pop[1] = (int)_mm512_reduce_add_epi64(a1);
    pop[2] = (int)_mm512_reduce_add_epi64(a2), pop[3] = (int)_mm512_reduce_add_epi64(a3);
}
LQ_T_AVX512 static inline int pop1(const uint64_t *x, const uint64_t *w, int words) {
    __m512i a = _mm512_setzero_si512();
    for (int i = 0; i < words; i += 8) {
        const __mmask8 m = words - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (words - i)) - 1);
        a = _mm512_add_epi64(a, xpop(_mm512_maskz_loadu_epi64(m, x + i), w + i, m));
    }
    return (int)_mm512_reduce_add_epi64(a);
}
// Largest plane counts of the interleaved AVX-512 kernel (K <= 8 bits and an offset plane); larger
// layers use the plain AVX-512 kernel.
#define LQ_MAX_KX 9
#define LQ_MAX_KW 8

// Output-interleaved form of the weights (flow.lq.cpu builds it for this path): w_inter
// [(g * kw + q) * words + i] * 8 + t holds word i of plane q of output 8 g + t (zero past n_out).
// Eight outputs share each 512-bit register: one broadcast input word, one load, one XOR and one
// VPOPCNTQ per word for 8 outputs, and no horizontal sum. The (p, q) terms are added in the same
// order and with the same operations (mul, mul, add; no FMA) as the scalar kernel: bit-exact.
template <int KX>
LQ_T_AVX512 static void dense_inter_kx(const uint64_t *x_planes, int batch, const double *x_basis,
                                       const uint64_t *w_inter, int n_out, int kw, const double *w_basis,
                                       const double *bias, int n, double *y) {
    const int words = (n + 63) / 64;
    const int groups = (n_out + 7) / 8;
    const __m512i nv = _mm512_set1_epi64(n);
    for (int g = 0; g < groups; g++) {
        const int j = g * 8;
        const __mmask8 m = n_out - j >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n_out - j)) - 1);
        const uint64_t *wg = w_inter + (size_t)g * kw * words * 8;
        const __m512d bv = _mm512_maskz_loadu_pd(m, bias + j);
        for (int b = 0; b < batch; b++) {
            const uint64_t *xb = x_planes + (size_t)b * KX * words;
            // popcounts of every (input plane, weight plane) pair: each weight word is loaded once for
            // the KX input planes, whose accumulators stay in registers (KX is a compile-time constant)
            __m512i pops[KX * LQ_MAX_KW];
            for (int q = 0; q < kw; q++) {
                const uint64_t *wq = wg + (size_t)q * words * 8;
                __m512i a[KX];
                for (int p = 0; p < KX; p++)
                    a[p] = _mm512_setzero_si512();
                for (int i = 0; i < words; i++) {
                    const __m512i wv = _mm512_loadu_si512((const void *)(wq + (size_t)i * 8));
                    for (int p = 0; p < KX; p++) {
                        const __m512i xv = _mm512_set1_epi64((long long)xb[p * words + i]);
                        a[p] = _mm512_add_epi64(a[p], _mm512_popcnt_epi64(_mm512_xor_si512(xv, wv)));
                    }
                }
                for (int p = 0; p < KX; p++)
                    pops[p * kw + q] = a[p];
            }
            // the terms in the scalar kernel's order (p outer, q inner)
            __m512d acc = _mm512_setzero_pd();
            for (int p = 0; p < KX; p++) {
                const __m512d xbp = _mm512_set1_pd(x_basis[p]);
                for (int q = 0; q < kw; q++) {
                    const __m512i pop = pops[p * kw + q];
                    const __m512d cnt = _mm512_cvtepi64_pd(_mm512_sub_epi64(nv, _mm512_slli_epi64(pop, 1)));
                    const __m512d coef = _mm512_mul_pd(xbp, _mm512_maskz_loadu_pd(m, w_basis + (size_t)q * n_out + j));
                    acc = _mm512_add_pd(acc, _mm512_mul_pd(coef, cnt));
                }
            }
            _mm512_mask_storeu_pd(y + (size_t)b * n_out + j, m, _mm512_add_pd(acc, bv));
        }
    }
}

// The interleaved kernel for kx input planes (1..LQ_MAX_KX); false when kx is outside that range.
LQ_T_AVX512 static bool dense_inter(const uint64_t *x_planes, int batch, int kx, const double *x_basis,
                                    const uint64_t *w_inter, int n_out, int kw, const double *w_basis,
                                    const double *bias, int n, double *y) {
#define LQ_INTER_CASE(K)                                                                                               \
    case K:                                                                                                            \
        dense_inter_kx<K>(x_planes, batch, x_basis, w_inter, n_out, kw, w_basis, bias, n, y);                          \
        return true;
    switch (kx) {
        LQ_INTER_CASE(1)
        LQ_INTER_CASE(2)
        LQ_INTER_CASE(3)
        LQ_INTER_CASE(4)
        LQ_INTER_CASE(5)
        LQ_INTER_CASE(6)
        LQ_INTER_CASE(7)
        LQ_INTER_CASE(8)
        LQ_INTER_CASE(9)
    default:
        return false;
    }
#undef LQ_INTER_CASE
}

// x (batch, n) float64 -> planes, 64 inputs (one plane word) per step, 8 per vector: each input's
// level is the number of thresholds at or below it (one compare and one masked add per threshold),
// its code a table lookup (a permute: up to 16 levels), plane p's 8 bits one test of the codes.
// Same comparisons (>=, NaN false) as the scalar encode_planes: bit-exact. Every plane word is
// written once (no memset, no read-modify-write). Needs n_levels <= 16 (the caller checks).
LQ_T_AVX512 static void encode_planes(const double *x, int batch, int n, const double *thresholds,
                                      const int32_t *codes, int n_levels, int k, uint64_t *planes) {
    const int words = (n + 63) / 64;
    const int n_t = n_levels - 1;
    __m512d t[15];
    for (int l = 0; l < n_t; l++)
        t[l] = _mm512_set1_pd(thresholds[l]);
    long long lo[8] = {0}, hi[8] = {0};
    for (int l = 0; l < n_levels; l++)
        (l < 8 ? lo[l] : hi[l - 8]) = codes[l];
    const __m512i code_lo = _mm512_loadu_si512((const void *)lo), code_hi = _mm512_loadu_si512((const void *)hi);
    const __m512i one = _mm512_set1_epi64(1);
    for (int b = 0; b < batch; b++) {
        const double *xb = x + (size_t)b * n;
        uint64_t *pb = planes + (size_t)b * k * words;
        for (int w = 0; w < words; w++) {
            uint64_t bits[16] = {0};
            for (int s = 0; s < 8; s++) {
                const int i = w * 64 + s * 8;
                if (i >= n)
                    break;
                const __mmask8 in = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
                const __m512d v = _mm512_maskz_loadu_pd(in, xb + i);
                __m512i level = _mm512_setzero_si512();
                for (int l = 0; l < n_t; l++)
                    level = _mm512_mask_add_epi64(level, _mm512_cmp_pd_mask(v, t[l], _CMP_GE_OQ), level, one);
                const __m512i code = _mm512_permutex2var_epi64(code_lo, level, code_hi);
                for (int p = 0; p < k; p++)
                    bits[p] |= (uint64_t)_mm512_mask_test_epi64_mask(in, code, _mm512_set1_epi64(1LL << p)) << (s * 8);
            }
            for (int p = 0; p < k; p++)
                pb[p * words + w] = bits[p];
        }
    }
}
} // namespace avx512
#endif

// y (batch, n_out) float64 = sum_p sum_q xb[p] wb[q, j] (n - 2 popcount(x_p ^ w_jq)) + bias[j]
// Outputs are taken four at a time so each input word is loaded once for four popcounts, and the
// samples of a batch run inside the loop over output groups, so a group's weight words are read
// from memory once per batch and stay in L1 for the other samples. The sum over (p, q) runs in the
// same order for every output, path and batch size (the numpy reference's order): bit-exact.
#define LQ_DENSE_DEFINE(NS, TARGET)                                                                                    \
    namespace NS {                                                                                                     \
    TARGET static void dense(const uint64_t *x_planes, int batch, int kx, const double *x_basis,                      \
                             const uint64_t *w_planes, int n_out, int kw, const double *w_basis, const double *bias,   \
                             int n, double *y) {                                                                       \
        const int words = (n + 63) / 64;                                                                               \
        const size_t stride = (size_t)kw * words;                                                                      \
        int j = 0;                                                                                                     \
        for (; j + 4 <= n_out; j += 4) {                                                                               \
            const uint64_t *wj = w_planes + (size_t)j * stride;                                                        \
            for (int b = 0; b < batch; b++) {                                                                          \
                const uint64_t *xb = x_planes + (size_t)b * kx * words;                                                \
                double acc[4] = {0.0, 0.0, 0.0, 0.0};                                                                  \
                for (int p = 0; p < kx; p++)                                                                           \
                    for (int q = 0; q < kw; q++) {                                                                     \
                        int pop[4];                                                                                    \
                        pop4(xb + p * words, wj + q * words, stride, words, pop);                                      \
                        for (int t = 0; t < 4; t++)                                                                    \
                            acc[t] += (x_basis[p] * w_basis[q * n_out + j + t]) * (double)(n - 2 * pop[t]);           \
                    }                                                                                                  \
                for (int t = 0; t < 4; t++)                                                                            \
                    y[(size_t)b * n_out + j + t] = acc[t] + bias[j + t];                                               \
            }                                                                                                          \
        }                                                                                                              \
        for (; j < n_out; j++) {                                                                                       \
            const uint64_t *wj = w_planes + (size_t)j * stride;                                                        \
            for (int b = 0; b < batch; b++) {                                                                          \
                const uint64_t *xb = x_planes + (size_t)b * kx * words;                                                \
                double acc = 0.0;                                                                                      \
                for (int p = 0; p < kx; p++)                                                                           \
                    for (int q = 0; q < kw; q++)                                                                       \
                        acc += (x_basis[p] * w_basis[q * n_out + j]) *                                                 \
                               (double)(n - 2 * pop1(xb + p * words, wj + q * words, words));                          \
                y[(size_t)b * n_out + j] = acc + bias[j];                                                              \
            }                                                                                                          \
        }                                                                                                              \
    }                                                                                                                  \
    }

LQ_DENSE_DEFINE(portable, LQ_NOTARGET)
#ifdef LQ_X86
LQ_DENSE_DEFINE(popcnt, LQ_T_POPCNT)
LQ_DENSE_DEFINE(avx2, LQ_T_AVX2)
LQ_DENSE_DEFINE(avx512, LQ_T_AVX512)
#endif

typedef void (*DenseFn)(const uint64_t *, int, int, const double *, const uint64_t *, int, int, const double *,
                        const double *, int, double *);

// The dense kernel of `path`, or null where this build or CPU lacks it.
static DenseFn dense_fn(int path) {
    if (path < 0 || path >= LQ_N_PATHS || !((lq_paths() >> path) & 1))
        return nullptr;
#ifdef LQ_X86
    static const DenseFn table[LQ_N_PATHS] = {portable::dense, popcnt::dense, avx2::dense, avx512::dense};
#else
    static const DenseFn table[LQ_N_PATHS] = {portable::dense, nullptr, nullptr, nullptr};
#endif
    return table[path];
}

// The input encoder of `path` (AVX-512: 8 inputs per compare; the others the scalar loop).
static void encode_for(int path, const double *x, int batch, int n, const double *thresholds, const int32_t *codes,
                       int n_levels, int k, uint64_t *planes) {
#ifdef LQ_X86
    if (path == LQ_AVX512 && n_levels <= 16 && k <= 16) {
        avx512::encode_planes(x, batch, n, thresholds, codes, n_levels, k, planes);
        return;
    }
#endif
    encode_planes(x, batch, n, thresholds, codes, n_levels, k, planes);
}

// The dense kernel of `path` on its weights: the AVX-512 path on the output-interleaved copy when
// the caller has one (w_inter not null), every other path on the plain planes.
static void run_dense(int path, DenseFn fn, const uint64_t *x_planes, int batch, int kx, const double *x_basis,
                      const uint64_t *w_planes, const uint64_t *w_inter, int n_out, int kw, const double *w_basis,
                      const double *bias, int n, double *y) {
#ifdef LQ_X86
    if (path == LQ_AVX512 && w_inter && kw <= LQ_MAX_KW &&
        avx512::dense_inter(x_planes, batch, kx, x_basis, w_inter, n_out, kw, w_basis, bias, n, y))
        return;
#endif
    fn(x_planes, batch, kx, x_basis, w_planes, n_out, kw, w_basis, bias, n, y);
}

// Returns 0, or -1 (nothing written) where this CPU lacks `path`.
LQ_EXPORT int lq_dense(const uint64_t *x_planes, int batch, int kx, const double *x_basis, const uint64_t *w_planes,
                       int n_out, int kw, const double *w_basis, const double *bias, int n, double *y,
                       const uint64_t *w_inter, int path) {
    const DenseFn fn = dense_fn(path);
    if (!fn)
        return -1;
    run_dense(path, fn, x_planes, batch, kx, x_basis, w_planes, w_inter, n_out, kw, w_basis, bias, n, y);
    return 0;
}

// One LQ dense layer in one call (the hot path from Python): encode x (batch, n) float64 to
// planes in `scratch` (batch, kx, words), then the dense kernel of `path` into y. 0, or -1 as lq_dense.
LQ_EXPORT int lq_layer(const double *x, int batch, int n, const double *thresholds, const int32_t *codes, int n_levels,
                       int kx, const double *x_basis, const uint64_t *w_planes, int n_out, int kw,
                       const double *w_basis, const double *bias, uint64_t *scratch, double *y,
                       const uint64_t *w_inter, int path) {
    const DenseFn fn = dense_fn(path);
    if (!fn)
        return -1;
    encode_for(path, x, batch, n, thresholds, codes, n_levels, kx, scratch);
    run_dense(path, fn, scratch, batch, kx, x_basis, w_planes, w_inter, n_out, kw, w_basis, bias, n, y);
    return 0;
}

// A chain of LQ dense layers (ReLU between them where relu != 0), in one call: the host-side
// network of bit-plane layers without a Python round trip per layer.
struct LQLayerDesc {
    int n, n_levels, kx, n_out, kw, relu;
    const double *thresholds;
    const int32_t *codes;
    const double *x_basis;
    const uint64_t *w_planes;
    const double *w_basis;
    const double *bias;
    const uint64_t *w_inter; // output-interleaved weights for the AVX-512 path, or null
};

static void chain(const double *x, int batch, int n_layers, const LQLayerDesc *layers, uint64_t *scratch,
                  double *buf_a, double *buf_b, double *y, int path, DenseFn fn) {
    const double *in = x;
    for (int l = 0; l < n_layers; l++) {
        const LQLayerDesc &d = layers[l];
        double *out = (l == n_layers - 1) ? y : ((l % 2 == 0) ? buf_a : buf_b);
        encode_for(path, in, batch, d.n, d.thresholds, d.codes, d.n_levels, d.kx, scratch);
        run_dense(path, fn, scratch, batch, d.kx, d.x_basis, d.w_planes, d.w_inter, d.n_out, d.kw, d.w_basis, d.bias,
                  d.n, out);
        if (d.relu) {
            for (size_t i = 0; i < (size_t)batch * d.n_out; i++)
                out[i] = out[i] > 0.0 ? out[i] : 0.0;
        }
        in = out;
    }
}

LQ_EXPORT int lq_chain(const double *x, int batch, int n_layers, const LQLayerDesc *layers, uint64_t *scratch,
                       double *buf_a, double *buf_b, double *y, int path) {
    const DenseFn fn = dense_fn(path);
    if (!fn)
        return -1;
    chain(x, batch, n_layers, layers, scratch, buf_a, buf_b, y, path, fn);
    return 0;
}

// A network for lq_run: the chain's layers, its buffers (room for `capacity` samples: scratch
// scratch_per_sample words, buf_a / buf_b width doubles per sample), its path and thread count.
struct LQNet {
    int n_layers, path, threads, capacity, width, scratch_per_sample;
    const LQLayerDesc *layers;
    uint64_t *scratch;
    double *buf_a, *buf_b;
};

// The chain on `batch` samples, split into `threads` contiguous slices of samples run on their own
// threads (each slice on its own part of the buffers). Every sample goes through the same code
// whatever the slice: the output is bit-identical to one thread's. 0, or -1 (path), -2 (batch >
// capacity), -3 (a thread could not start; nothing is left running).
static int run_net(const LQNet *net, const double *x, int batch, double *y) {
    const DenseFn fn = dense_fn(net->path);
    if (!fn)
        return -1;
    if (batch > net->capacity)
        return -2;
    const LQLayerDesc *layers = net->layers;
    const int n0 = layers[0].n, n_last = layers[net->n_layers - 1].n_out;
    int threads = net->threads < batch ? net->threads : batch;
    if (threads <= 1) {
        chain(x, batch, net->n_layers, layers, net->scratch, net->buf_a, net->buf_b, y, net->path, fn);
        return 0;
    }
    auto slice = [&](int t) {
        const int start = (int)((long long)batch * t / threads), stop = (int)((long long)batch * (t + 1) / threads);
        chain(x + (size_t)start * n0, stop - start, net->n_layers, layers,
              net->scratch + (size_t)start * net->scratch_per_sample, net->buf_a + (size_t)start * net->width,
              net->buf_b + (size_t)start * net->width, y + (size_t)start * n_last, net->path, fn);
    };
    std::vector<std::thread> pool;
    int rc = 0;
    try {
        for (int t = 1; t < threads; t++)
            pool.emplace_back(slice, t);
    } catch (...) {
        rc = -3;
    }
    if (rc == 0)
        slice(0);
    for (auto &th : pool)
        th.join();
    return rc;
}

// Byte offset of the data pointer inside a numpy array object (PyArrayObject's `data`), set once by
// flow.lq.cpu after checking it on a live array; -1: unknown, lq_run_arrays refuses.
static int data_offset = -1;

// Where a pointer-sized field of `obj` equals `data` (8..64 bytes in): that offset, or -1.
LQ_EXPORT int lq_find_data_offset(const void *obj, const void *data) {
    for (int off = 8; off <= 64; off += (int)sizeof(void *))
        if (*(const void *const *)((const char *)obj + off) == data)
            return off;
    return -1;
}

LQ_EXPORT void lq_set_data_offset(int offset) { data_offset = offset; }

LQ_EXPORT int lq_run(const LQNet *net, const double *x, int batch, double *y) { return run_net(net, x, batch, y); }

// lq_run on numpy arrays passed as objects (the batch-1 hot path: no pointer conversion in Python).
// The caller guarantees C-contiguous float64 arrays of the right shapes; -4 where the offset is unset.
LQ_EXPORT int lq_run_arrays(const LQNet *net, const void *x_obj, int batch, const void *y_obj) {
    if (data_offset < 0)
        return -4;
    const double *x = *(const double *const *)((const char *)x_obj + data_offset);
    double *y = *(double *const *)((const char *)y_obj + data_offset);
    return run_net(net, x, batch, y);
}

// The same dense layer in plain fp32: y (batch, n_out) = x (batch, n) @ w (n_out, n)^T + bias.
LQ_EXPORT void fp32_dense(const float *x, int batch, int n, const float *w, int n_out, const float *bias, float *y) {
    for (int b = 0; b < batch; b++) {
        const float *xb = x + (size_t)b * n;
        for (int j = 0; j < n_out; j++) {
            const float *wj = w + (size_t)j * n;
            float acc = 0.0f;
            for (int i = 0; i < n; i++)
                acc += xb[i] * wj[i];
            y[(size_t)b * n_out + j] = acc + bias[j];
        }
    }
}
