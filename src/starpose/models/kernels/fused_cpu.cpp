// Fused multi-head attention for short sequences on the CPU, fp32, no autograd.
//
// One call does what the eager inference path does in four steps (the head-split copy of q, k
// and v, the logits, the softmax, weights @ v, the head-merge copy): it reads the qkv linear
// layer's output rows directly and writes the attention output rows directly, in the token
// order of the residual stream. Loaded with ctypes by fused_cpu.py (no Python C API, no torch
// headers); built by setup.py as an optional extension.
//
// Layout. qkv: rows of 3*h*D floats ([q heads | k heads | v heads], head g at g*D), one row per
// token; out: rows of h*D floats. Sequence s (0 <= s < S) has N tokens; its token n is row
//     (s / P) * A + (s % P) * B + n * T
// (spatial attention over the joints of a frame: P=1, A=N, B=0, T=1; temporal attention over
// the frames of a joint: P=J, A=F*J, B=1, T=J). wa: the Star-Attention weight (N, D) or null.
// Logits: vanilla scale * q_n . k_m; star 0.5 * (wa_n . (q_m * k_m) + scale * q_n . k_m).
// Softmax over m with the row maximum subtracted first (exact softmax, no overflow).
//
// Work is split into jobs (sequence, head), job = s * h + g, shared out by OpenMP. Built with
// -fopenmp and loaded after torch, the library binds to the OpenMP runtime torch already loaded
// (same soname), so it uses torch's thread pool rather than a second one competing for cores.
//
// Vectorisation: GCC vector extensions, 16 lanes. Lanes run over the queries n of one
// (sequence, head) for the logits and the softmax (no horizontal reductions), and over the
// channels of v for weights @ v. Compiled three times (AVX-512, AVX2+FMA, baseline) and chosen
// at run time from the CPU's features.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define LANES 16

#define STARPOSE_BODY                                                                            \
    typedef float vf __attribute__((vector_size(64)));                                          \
    typedef int32_t vi __attribute__((vector_size(64)));                                        \
                                                                                                 \
    /* exp(x) for x <= 0 (Cephes' expf polynomial, ~1e-7 relative); NaN stays NaN. */            \
    static inline vf vexp(vf x) {                                                                \
        const vf lo = (vf){} - 87.0f;                                                            \
        x = x < lo ? lo : x;                                                                     \
        vf n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */   \
        vf r = x - n * 0.693145751953125f;                                                       \
        r = r - n * 1.428606765330187045e-06f;                                                   \
        vf p = (vf){} + 1.9875691500E-4f;                                                        \
        p = p * r + 1.3981999507E-3f;                                                            \
        p = p * r + 8.3334519073E-3f;                                                            \
        p = p * r + 4.1665795894E-2f;                                                            \
        p = p * r + 1.6666665459E-1f;                                                            \
        p = p * r + 5.0000001201E-1f;                                                            \
        p = p * r * r + r + 1.0f;                                                                \
        vi e = (__builtin_convertvector(n, vi) + 127) << 23;                                     \
        return p * (vf)e;                                                                        \
    }                                                                                            \
                                                                                                 \
    /* D channels per head, NV vectors of LANES queries (N <= NV * LANES). */                    \
    template <int D, int NV>                                                                     \
    static int jobs(const float *qkv, float *out, const float *wa, int64_t N, int64_t h,         \
                    int64_t P, int64_t A, int64_t B, int64_t T, float scale, int64_t j0,         \
                    int64_t j1) {                                                                \
        const int64_t C = h * D, R = 3 * C, rs = T * R, os = T * C, width = NV * LANES;          \
        const float qs = wa ? 0.5f * scale : scale;                                              \
        vf QT[D][NV], WT[D][NV];                                                                 \
        vf *Pv = (vf *)aligned_alloc(64, sizeof(vf) * NV * N); /* weights, [m][n] */            \
        float *qk = (float *)malloc(sizeof(float) * D * N);    /* 0.5 q_m * k_m */              \
        if (!Pv || !qk) { free(Pv); free(qk); return 2; }                                        \
        const float *Pm = (const float *)Pv;                                                     \
        if (wa)                                                                                  \
            for (int c = 0; c < D; ++c)                                                          \
                for (int j = 0; j < NV; ++j)                                                     \
                    for (int l = 0; l < LANES; ++l) {                                            \
                        int64_t n = j * LANES + l;                                               \
                        WT[c][j][l] = n < N ? wa[n * D + c] : 0.0f;                              \
                    }                                                                            \
        for (int64_t job = j0; job < j1; ++job) {                                                \
            const int64_t s = job / h, g = job % h;                                              \
            const int64_t tok0 = (s / P) * A + (s % P) * B;                                      \
            const float *qb = qkv + tok0 * R + g * D, *kb = qb + C, *vb = qb + 2 * C;            \
            float *ob = out + tok0 * C + g * D;                                                  \
            for (int c = 0; c < D; ++c) /* q transposed, queries in lanes, scaled */             \
                for (int j = 0; j < NV; ++j)                                                     \
                    for (int l = 0; l < LANES; ++l) {                                            \
                        int64_t n = j * LANES + l;                                               \
                        QT[c][j][l] = n < N ? qb[n * rs + c] * qs : 0.0f;                        \
                    }                                                                            \
            if (wa)                                                                              \
                for (int64_t m = 0; m < N; ++m)                                                  \
                    for (int c = 0; c < D; ++c) qk[m * D + c] = 0.5f * qb[m * rs + c] * kb[m * rs + c]; \
            vf mx[NV];                                                                           \
            for (int j = 0; j < NV; ++j) mx[j] = (vf){} - 3.0e38f;                               \
            for (int64_t m = 0; m < N; ++m) { /* logits of key m for every query */              \
                const float *km = kb + m * rs;                                                   \
                vf a0[NV], a1[NV];                                                               \
                for (int j = 0; j < NV; ++j) a0[j] = a1[j] = (vf){};                             \
                for (int c = 0; c < D; c += 2)                                                   \
                    for (int j = 0; j < NV; ++j) {                                               \
                        a0[j] += km[c] * QT[c][j];                                               \
                        a1[j] += km[c + 1] * QT[c + 1][j];                                       \
                    }                                                                            \
                if (wa) {                                                                        \
                    const float *qkm = qk + m * D;                                               \
                    for (int c = 0; c < D; c += 2)                                               \
                        for (int j = 0; j < NV; ++j) {                                           \
                            a0[j] += qkm[c] * WT[c][j];                                          \
                            a1[j] += qkm[c + 1] * WT[c + 1][j];                                  \
                        }                                                                        \
                }                                                                                \
                for (int j = 0; j < NV; ++j) {                                                   \
                    vf a = a0[j] + a1[j];                                                        \
                    Pv[m * NV + j] = a;                                                          \
                    mx[j] = a > mx[j] ? a : mx[j];                                               \
                }                                                                                \
            }                                                                                    \
            vf sum[NV];                                                                          \
            for (int j = 0; j < NV; ++j) sum[j] = (vf){};                                        \
            for (int64_t m = 0; m < N; ++m)                                                      \
                for (int j = 0; j < NV; ++j) {                                                   \
                    vf e = vexp(Pv[m * NV + j] - mx[j]);                                         \
                    Pv[m * NV + j] = e;                                                          \
                    sum[j] += e;                                                                 \
                }                                                                                \
            float inv[NV * LANES];                                                               \
            for (int j = 0; j < NV; ++j) {                                                       \
                vf x = 1.0f / sum[j];                                                            \
                memcpy(inv + j * LANES, &x, sizeof(vf));                                         \
            }                                                                                    \
            int64_t n = 0; /* out_n = sum_m w[n, m] v_m / sum_n, channels in lanes, 4 rows at once */ \
            for (; n + 4 <= N; n += 4) {                                                         \
                vf o0[D / LANES], o1[D / LANES], o2[D / LANES], o3[D / LANES];                   \
                for (int e = 0; e < D / LANES; ++e) o0[e] = o1[e] = o2[e] = o3[e] = (vf){};      \
                for (int64_t m = 0; m < N; ++m) {                                                \
                    vf x[D / LANES];                                                             \
                    memcpy(x, vb + m * rs, sizeof(x));                                           \
                    const float *pm = Pm + m * width + n;                                        \
                    for (int e = 0; e < D / LANES; ++e) {                                        \
                        o0[e] += pm[0] * x[e];                                                   \
                        o1[e] += pm[1] * x[e];                                                   \
                        o2[e] += pm[2] * x[e];                                                   \
                        o3[e] += pm[3] * x[e];                                                   \
                    }                                                                            \
                }                                                                                \
                for (int e = 0; e < D / LANES; ++e) {                                            \
                    vf y;                                                                        \
                    y = o0[e] * inv[n]; memcpy(ob + n * os + e * LANES, &y, sizeof(vf));         \
                    y = o1[e] * inv[n + 1]; memcpy(ob + (n + 1) * os + e * LANES, &y, sizeof(vf)); \
                    y = o2[e] * inv[n + 2]; memcpy(ob + (n + 2) * os + e * LANES, &y, sizeof(vf)); \
                    y = o3[e] * inv[n + 3]; memcpy(ob + (n + 3) * os + e * LANES, &y, sizeof(vf)); \
                }                                                                                \
            }                                                                                    \
            for (; n < N; ++n) {                                                                 \
                vf o0[D / LANES];                                                                \
                for (int e = 0; e < D / LANES; ++e) o0[e] = (vf){};                              \
                for (int64_t m = 0; m < N; ++m) {                                                \
                    vf x[D / LANES];                                                             \
                    memcpy(x, vb + m * rs, sizeof(x));                                           \
                    for (int e = 0; e < D / LANES; ++e) o0[e] += Pm[m * width + n] * x[e];      \
                }                                                                                \
                for (int e = 0; e < D / LANES; ++e) {                                            \
                    vf y = o0[e] * inv[n];                                                       \
                    memcpy(ob + n * os + e * LANES, &y, sizeof(vf));                             \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        free(Pv);                                                                                \
        free(qk);                                                                                \
        return 0;                                                                                \
    }                                                                                            \
                                                                                                 \
    static int run(const float *qkv, float *out, const float *wa, int64_t N, int64_t h,          \
                   int64_t d, int64_t P, int64_t A, int64_t B, int64_t T, float scale,           \
                   int64_t j0, int64_t j1) {                                                     \
        const int64_t nv = (N + LANES - 1) / LANES;                                              \
        const int64_t NVs[] = {1, 2, 4, 8};                                                      \
        int k = 0;                                                                               \
        while (k < 4 && NVs[k] < nv) ++k;                                                        \
        if (k == 4) return 1;                                                                    \
        int (*table[3][4])(const float *, float *, const float *, int64_t, int64_t, int64_t,     \
                           int64_t, int64_t, int64_t, float, int64_t, int64_t) = {               \
            {jobs<16, 1>, jobs<16, 2>, jobs<16, 4>, jobs<16, 8>},                                \
            {jobs<32, 1>, jobs<32, 2>, jobs<32, 4>, jobs<32, 8>},                                \
            {jobs<64, 1>, jobs<64, 2>, jobs<64, 4>, jobs<64, 8>},                                \
        };                                                                                       \
        const int row = d == 16 ? 0 : d == 32 ? 1 : d == 64 ? 2 : -1;                            \
        if (row < 0) return 1;                                                                   \
        return table[row][k](qkv, out, wa, N, h, P, A, B, T, scale, j0, j1);                      \
    }

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx2,fma")
namespace isa_avx512 { STARPOSE_BODY }
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace isa_avx2 { STARPOSE_BODY }
#pragma GCC pop_options
#define STARPOSE_X86 1
#endif
namespace isa_base { STARPOSE_BODY }

typedef int (*runner)(const float *, float *, const float *, int64_t, int64_t, int64_t, int64_t,
                      int64_t, int64_t, int64_t, float, int64_t, int64_t);

static runner pick(void) {
#ifdef STARPOSE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return isa_avx512::run;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return isa_avx2::run;
#endif
    return isa_base::run;
}

extern "C" {

// Which code path runs here: 3 AVX-512, 2 AVX2, 1 baseline.
int starpose_fused_isa(void) {
    runner r = pick();
#ifdef STARPOSE_X86
    if (r == isa_avx512::run) return 3;
    if (r == isa_avx2::run) return 2;
#endif
    return 1;
}

// 1 if (d, N) is covered (D in 16, 32, 64; N <= 128), else 0.
int starpose_fused_supports(int64_t d, int64_t N) {
    return (d == 16 || d == 32 || d == 64) && N >= 1 && N <= 8 * LANES;
}

// Attention of the S sequences (layout above) into out; threads: OpenMP threads to use.
// Returns 0, 1 for an unsupported (d, N), 2 when memory ran out.
int starpose_fused_attention(const float *qkv, float *out, const float *wa, int64_t S, int64_t N,
                             int64_t h, int64_t d, int64_t P, int64_t A, int64_t B, int64_t T,
                             float scale, int threads) {
    if (!starpose_fused_supports(d, N)) return 1;
    static runner r = pick();
    const int64_t total = S * h;
    int rc = 0;
    if (threads < 1) threads = 1;
    if (total < 2 * (int64_t)threads) threads = 1;
#pragma omp parallel num_threads(threads) reduction(| : rc)
    {
        int nt = 1, t = 0;
#ifdef _OPENMP
        nt = omp_get_num_threads();
        t = omp_get_thread_num();
#endif
        rc |= r(qkv, out, wa, N, h, d, P, A, B, T, scale, total * t / nt, total * (t + 1) / nt);
    }
    return rc;
}

}  // extern "C"
