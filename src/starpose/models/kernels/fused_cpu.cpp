// Fused multi-head attention for short sequences on the CPU, fp32: forward and backward.
//
// One forward call does what the eager path does in several steps (gathering q, k, v into
// head-major buffers, the logits, the softmax, weights @ v, the head-merge copy): it reads q, k, v
// where they are (strided views, e.g. into the qkv linear layer's output) and writes the output
// where the next layer reads it. The backward reads the saved probabilities and writes dq, dk,
// dv (and dWa) in the same way. Loaded with ctypes by fused_cpu.py (no Python C API, no torch
// headers); built by setup.py as an optional extension.
//
// Tensors are described by a View: element (s, g, n, c) of sequence s (0 <= s < S), head g,
// position n (0 <= n < N), channel c (0 <= c < D, unit stride) is at
//     p[(s / P) * s1 + (s % P) * s2 + g * sh + n * sn + c]
// (two strides for the sequence, so that temporal attention over the frames of each joint reads
// a (batch, frame, joint, channel) token layout with no copy: P = joints).
// Logits: vanilla scale * q_n . k_m; star 0.5 * (wa_n . (q_m * k_m) + scale * q_n . k_m), wa
// (N, D) shared by heads and sequences. Softmax over m with the row maximum subtracted first
// (exact softmax: no overflow, no underflow to a zero sum).
//
// Work is split into jobs (sequence, head), job = s * h + g, shared out by OpenMP in a fixed
// partition per thread count (results do not depend on scheduling; dWa is summed per thread, then
// over the threads in order). Built with -fopenmp and loaded after torch, the library binds to the
// OpenMP runtime torch already loaded (same soname): torch's own thread pool.
//
// Vectorisation: GCC vector extensions, as wide as the code path's registers (16 lanes on
// AVX-512, 8 on AVX2, 4 baseline). Lanes run over the queries n for the logits,
// the softmax and their gradients (no horizontal reductions), and over the channels for the
// products with rows (weights @ v, dq, dk, dv, dWa). Compiled three times (AVX-512, AVX2+FMA,
// baseline) and chosen at run time from the CPU's features.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <utility>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

// Longest sequence covered, and the vector counts compiled: 1, 2, 4, ... 32 vectors of queries
// (128 tokens take 8 AVX-512 vectors of 16 lanes, 16 AVX2 vectors of 8, 32 baseline ones of 4).
#define MAX_TOKENS 128
#define NV_COLUMNS 6

extern "C" {
typedef struct {
    float *p;
    int64_t s1, s2, sh, sn;
} View;
}

// aligned_alloc wants a size that is a multiple of the alignment.
static inline size_t round64(size_t bytes) { return (bytes + 63) / 64 * 64; }

// Rows ordered (A, P, Q) walked in order from row r, giving for each its index in the same rows
// ordered (A, Q, P): row (a, p, q) -> (a * Q + q) * P + p (no divisions after the first row).
struct Regrouped {
    int64_t P, Q, a, p, q;
    Regrouped(int64_t r, int64_t P_, int64_t Q_) : P(P_), Q(Q_), a(r / (P_ * Q_)), p((r / Q_) % P_), q(r % Q_) {}
    int64_t index() const { return (a * Q + q) * P + p; }
    void next() {
        if (++q < Q) return;
        q = 0;
        if (++p < P) return;
        p = 0;
        ++a;
    }
};

static inline float *at(const View *v, int64_t s, int64_t P, int64_t g) {
    return v->p + (s / P) * v->s1 + (s % P) * v->s2 + g * v->sh;
}

#define STARPOSE_BODY                                                                            \
    static constexpr int W = STARPOSE_W; /* lanes: the CPU's vector width in floats */          \
    typedef float vf __attribute__((vector_size(4 * W)));                                       \
    typedef int32_t vi __attribute__((vector_size(4 * W)));                                     \
    /* the same vector at any float's alignment: for buffers the caller allocates (probs) */     \
    typedef float vfu __attribute__((vector_size(4 * W), aligned(4)));                          \
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
    static inline vf load(const float *p) { vf x; memcpy(&x, p, sizeof(vf)); return x; }        \
    static inline void store(float *p, vf x) { memcpy(p, &x, sizeof(vf)); }                      \
                                                                                                 \
    /* out_i (+)= alpha * sum_j w[i * a + j * b] x_j for i < ni, j < nj; rows of D channels at */ \
    /* x + j * xs and out + i * os; add: accumulate into out. Four rows of out at a time. */     \
    template <int D>                                                                             \
    static void rows(float *out, int64_t os, const float *w, int64_t a, int64_t b,               \
                     const float *x, int64_t xs, int64_t ni, int64_t nj, float alpha, bool add) { \
        constexpr int E = D / W;                                                             \
        int64_t i = 0;                                                                           \
        for (; i + 4 <= ni; i += 4) {                                                            \
            vf o0[E], o1[E], o2[E], o3[E];                                                       \
            for (int e = 0; e < E; ++e) o0[e] = o1[e] = o2[e] = o3[e] = (vf){};                  \
            for (int64_t j = 0; j < nj; ++j) {                                                   \
                const float *wj = w + i * a + j * b;                                             \
                const float w0 = wj[0], w1 = wj[a], w2 = wj[2 * a], w3 = wj[3 * a];              \
                for (int e = 0; e < E; ++e) {                                                    \
                    const vf xv = load(x + j * xs + e * W);                                  \
                    o0[e] += w0 * xv; o1[e] += w1 * xv; o2[e] += w2 * xv; o3[e] += w3 * xv;     \
                }                                                                                \
            }                                                                                    \
            vf *os4[4] = {o0, o1, o2, o3};                                                       \
            for (int r = 0; r < 4; ++r)                                                          \
                for (int e = 0; e < E; ++e) {                                                    \
                    float *dst = out + (i + r) * os + e * W;                                 \
                    const vf y = alpha * os4[r][e];                                              \
                    store(dst, add ? load(dst) + y : y);                                         \
                }                                                                                \
        }                                                                                        \
        for (; i < ni; ++i) {                                                                    \
            vf o0[E];                                                                            \
            for (int e = 0; e < E; ++e) o0[e] = (vf){};                                          \
            for (int64_t j = 0; j < nj; ++j)                                                     \
                for (int e = 0; e < E; ++e) o0[e] += w[i * a + j * b] * load(x + j * xs + e * W); \
            for (int e = 0; e < E; ++e) {                                                        \
                float *dst = out + i * os + e * W;                                           \
                const vf y = alpha * o0[e];                                                      \
                store(dst, add ? load(dst) + y : y);                                             \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* One stage of the in-register transpose of W rows of W lanes: rows r and r + h (bit h   */ \
    /* of r clear) swap their off-diagonal blocks of h lanes. */                                  \
    template <int h, int... I>                                                                   \
    static inline vf swap_low(vf a, vf b, std::integer_sequence<int, I...>) {                    \
        return __builtin_shufflevector(a, b, ((I & h) ? (W + I - h) : I)...);                    \
    }                                                                                            \
    template <int h, int... I>                                                                   \
    static inline vf swap_high(vf a, vf b, std::integer_sequence<int, I...>) {                   \
        return __builtin_shufflevector(a, b, ((I & h) ? (W + I) : (I + h))...);                  \
    }                                                                                            \
    template <int h>                                                                             \
    static inline void transpose_stage(vf *m) {                                                  \
        if constexpr (h >= 1) {                                                                  \
            for (int r = 0; r < W; ++r)                                                          \
                if (!(r & h)) {                                                                  \
                    const vf a = m[r], b = m[r + h];                                             \
                    m[r] = swap_low<h>(a, b, std::make_integer_sequence<int, W>{});              \
                    m[r + h] = swap_high<h>(a, b, std::make_integer_sequence<int, W>{});         \
                }                                                                                \
            transpose_stage<h / 2>(m);                                                           \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* xt[c][j] (lanes: positions n = j * W + lane) = x_n[c] * f, zero past N: W rows of W     */ \
    /* channels at a time, loaded as vectors and transposed in registers. */                     \
    template <int D, int NV>                                                                     \
    static void transpose(vf (*xt)[NV], const float *x, int64_t xs, int64_t N, float f) {        \
        vf m[W];                                                                                 \
        for (int j = 0; j < NV; ++j)                                                             \
            for (int e = 0; e < D; e += W) {                                                     \
                for (int l = 0; l < W; ++l) {                                                    \
                    const int64_t n = j * W + l;                                                 \
                    m[l] = n < N ? load(x + n * xs + e) : (vf){};                                \
                }                                                                                \
                transpose_stage<W / 2>(m);                                                       \
                for (int c = 0; c < W; ++c) xt[e + c][j] = m[c] * f;                             \
            }                                                                                    \
    }                                                                                            \
                                                                                                 \
    /* a0[j] + a1[j] += sum_c row[c] * xt[c][j]: even channels into a0, odd into a1 (two */     \
    /* independent chains, summed by the caller). */                                            \
    template <int D, int NV>                                                                     \
    static inline void dot_lanes(vf *a0, vf *a1, const float *row, const vf (*xt)[NV]) {         \
        for (int c = 0; c < D; c += 2)                                                           \
            for (int j = 0; j < NV; ++j) {                                                       \
                a0[j] += row[c] * xt[c][j];                                                      \
                a1[j] += row[c + 1] * xt[c + 1][j];                                              \
            }                                                                                    \
    }                                                                                            \
                                                                                                 \
    /* N rows of D channels at x (row stride xs), or where a bias b (D) is given, the rows */   \
    /* plus the bias copied into local (row stride D); *stride: the returned rows' stride. */    \
    template <int D>                                                                             \
    static inline const float *biased(const float *x, int64_t xs, const float *b, float *local,  \
                                      int64_t N, int64_t *stride) {                              \
        if (!b) { *stride = xs; return x; }                                                      \
        for (int64_t m = 0; m < N; ++m)                                                          \
            for (int e = 0; e < D; e += W) store(local + m * D + e, load(x + m * xs + e) + load(b + e)); \
        *stride = D;                                                                             \
        return local;                                                                            \
    }                                                                                            \
                                                                                                 \
    /* Column sums of N rows of D channels at x (row stride xs) added to acc (D). */            \
    template <int D>                                                                             \
    static inline void add_column_sums(float *acc, const float *x, int64_t xs, int64_t N) {      \
        for (int e = 0; e < D; e += W) {                                                         \
            vf a = load(acc + e);                                                                \
            for (int64_t m = 0; m < N; ++m) a += load(x + m * xs + e);                           \
            store(acc + e, a);                                                                   \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* Forward of jobs [j0, j1). probs: null, or (jobs, N, NV * W) to keep the weights */   \
    /* (normalised, [m][n]) for the backward. */                                                 \
    template <int D, int NV>                                                                     \
    static int forward(const View *q, const View *k, const View *v, const View *o, const float *wa, \
                       const float *bias, int64_t P, int64_t N, int64_t h, float scale,          \
                       float *probs, int64_t j0, int64_t j1) {                                   \
        const int64_t width = NV * W;                                                        \
        const float qs = wa ? 0.5f * scale : scale;                                              \
        vf QT[D][NV], WT[D][NV];                                                                 \
        vf *local = (vf *)aligned_alloc(64, round64(sizeof(vf) * NV * N));                       \
        float *qk = (float *)malloc(sizeof(float) * D * N); /* 0.5 q_m * k_m */                 \
        float *lb = bias ? (float *)malloc(sizeof(float) * 3 * D * N) : NULL; /* biased q, k, v */ \
        if (!local || !qk || (bias && !lb)) { free(local); free(qk); free(lb); return 2; }       \
        if (wa) transpose<D, NV>(WT, wa, D, N, 1.0f);                                            \
        for (int64_t job = j0; job < j1; ++job) {                                                \
            const int64_t s = job / h, g = job % h;                                              \
            int64_t qsn, ksn, vsn;                                                               \
            const float *qb = biased<D>(at(q, s, P, g), q->sn, bias ? bias + g * D : NULL, lb, N, &qsn); \
            const float *kb = biased<D>(at(k, s, P, g), k->sn, bias ? bias + (h + g) * D : NULL, lb + D * N, N, &ksn); \
            const float *vb = biased<D>(at(v, s, P, g), v->sn, bias ? bias + (2 * h + g) * D : NULL, lb + 2 * D * N, N, &vsn); \
            float *ob = at(o, s, P, g);                                                          \
            vfu *Pv = probs ? (vfu *)(probs + job * N * width) : (vfu *)local;                   \
            transpose<D, NV>(QT, qb, qsn, N, qs);                                              \
            if (wa)                                                                              \
                for (int64_t m = 0; m < N; ++m)                                                  \
                    for (int c = 0; c < D; ++c) qk[m * D + c] = 0.5f * qb[m * qsn + c] * kb[m * ksn + c];   \
            vf mx[NV];                                                                           \
            for (int j = 0; j < NV; ++j) mx[j] = (vf){} - 3.0e38f;                               \
            for (int64_t m = 0; m < N; ++m) { /* logits of key m for every query */              \
                const float *km = kb + m * ksn;                                                  \
                vf a0[NV], a1[NV];                                                               \
                for (int j = 0; j < NV; ++j) a0[j] = a1[j] = (vf){};                             \
                dot_lanes<D, NV>(a0, a1, km, QT);                                                \
                if (wa) dot_lanes<D, NV>(a0, a1, qk + m * D, WT);                                \
                for (int j = 0; j < NV; ++j) {                                                   \
                    vf x = a0[j] + a1[j];                                                        \
                    Pv[m * NV + j] = x;                                                          \
                    mx[j] = x > mx[j] ? x : mx[j];                                               \
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
            for (int j = 0; j < NV; ++j) sum[j] = 1.0f / sum[j];                                 \
            for (int64_t m = 0; m < N; ++m)                                                      \
                for (int j = 0; j < NV; ++j) Pv[m * NV + j] *= sum[j];                           \
            /* out_n = sum_m w[n, m] v_m */                                                      \
            rows<D>(ob, o->sn, (const float *)Pv, 1, width, vb, vsn, N, N, 1.0f, false);         \
        }                                                                                        \
        free(local);                                                                             \
        free(qk);                                                                                \
        free(lb);                                                                                \
        return 0;                                                                                \
    }                                                                                            \
                                                                                                 \
    /* Backward of jobs [j0, j1) from the saved weights; dwa: this thread's (N, D) sum; dbias: */ \
    /* null, or this thread's (3, h, D) sums of dq, dk and dv over the positions. */            \
    template <int D, int NV>                                                                     \
    static int backward(const View *q, const View *k, const View *v, const View *go,             \
                        const float *probs, const float *wa, const float *bias, const View *dq,  \
                        const View *dk, const View *dv, float *dwa, float *dbias, int64_t P,     \
                        int64_t N, int64_t h, float scale, int64_t j0, int64_t j1) {             \
        const int64_t width = NV * W;                                                        \
        const float qs = wa ? 0.5f * scale : scale;                                              \
        vf GT[D][NV];                                                                            \
        vf *dL = (vf *)aligned_alloc(64, round64(sizeof(vf) * NV * N)); /* [m][n] */            \
        float *u = (float *)malloc(sizeof(float) * 2 * D * N);     /* q*k, then d(q*k) rows */  \
        float *lb = bias ? (float *)malloc(sizeof(float) * 3 * D * N) : NULL; /* biased q, k, v */ \
        if (!dL || !u || (bias && !lb)) { free(dL); free(u); free(lb); return 2; }               \
        float *du = u + D * N;                                                                   \
        for (int64_t job = j0; job < j1; ++job) {                                                \
            const int64_t s = job / h, g = job % h;                                              \
            int64_t qsn, ksn, vsn;                                                               \
            const float *qb = biased<D>(at(q, s, P, g), q->sn, bias ? bias + g * D : NULL, lb, N, &qsn); \
            const float *kb = biased<D>(at(k, s, P, g), k->sn, bias ? bias + (h + g) * D : NULL, lb + D * N, N, &ksn); \
            const float *vb = biased<D>(at(v, s, P, g), v->sn, bias ? bias + (2 * h + g) * D : NULL, lb + 2 * D * N, N, &vsn); \
            const float *gb = at(go, s, P, g);                                                   \
            float *dqb = at(dq, s, P, g), *dkb = at(dk, s, P, g), *dvb = at(dv, s, P, g);        \
            const vfu *Pv = (const vfu *)(probs + job * N * width);                              \
            const float *Pf = probs + job * N * width;                                           \
            /* dv_m = sum_n w[n, m] dout_n */                                                    \
            rows<D>(dvb, dv->sn, Pf, width, 1, gb, go->sn, N, N, 1.0f, false);                   \
            /* dw[n, m] = dout_n . v_m (queries in lanes); then dlogits = w (dw - rowsum(w dw)) */ \
            transpose<D, NV>(GT, gb, go->sn, N, 1.0f);                                           \
            vf rs[NV];                                                                           \
            for (int j = 0; j < NV; ++j) rs[j] = (vf){};                                         \
            for (int64_t m = 0; m < N; ++m) {                                                    \
                const float *vm = vb + m * vsn;                                                  \
                vf a0[NV], a1[NV];                                                               \
                for (int j = 0; j < NV; ++j) a0[j] = a1[j] = (vf){};                             \
                dot_lanes<D, NV>(a0, a1, vm, GT);                                                \
                for (int j = 0; j < NV; ++j) {                                                   \
                    const vf x = a0[j] + a1[j];                                                  \
                    dL[m * NV + j] = x;                                                          \
                    rs[j] += Pv[m * NV + j] * x;                                                 \
                }                                                                                \
            }                                                                                    \
            for (int64_t m = 0; m < N; ++m)                                                      \
                for (int j = 0; j < NV; ++j) dL[m * NV + j] = Pv[m * NV + j] * (dL[m * NV + j] - rs[j]); \
            const float *dLf = (const float *)dL;                                                \
            /* q.k term: dq_n = qs sum_m dL[n, m] k_m, dk_m = qs sum_n dL[n, m] q_n */           \
            rows<D>(dqb, dq->sn, dLf, 1, width, kb, ksn, N, N, qs, false);                       \
            rows<D>(dkb, dk->sn, dLf, width, 1, qb, qsn, N, N, qs, false);                       \
            if (wa) { /* star: u = q*k; du_m = 0.5 sum_n dL[n, m] wa_n; dwa_n += 0.5 sum_m dL[n, m] u_m */ \
                for (int64_t m = 0; m < N; ++m)                                                  \
                    for (int c = 0; c < D; ++c) u[m * D + c] = qb[m * qsn + c] * kb[m * ksn + c];   \
                rows<D>(du, D, dLf, width, 1, wa, D, N, N, 0.5f, false);                         \
                rows<D>(dwa, D, dLf, 1, width, u, D, N, N, 0.5f, true);                          \
                for (int64_t m = 0; m < N; ++m)                                                  \
                    for (int c = 0; c < D; ++c) {                                                \
                        dqb[m * dq->sn + c] += kb[m * ksn + c] * du[m * D + c];                  \
                        dkb[m * dk->sn + c] += qb[m * qsn + c] * du[m * D + c];                  \
                    }                                                                            \
            }                                                                                    \
            if (dbias) {                                                                         \
                add_column_sums<D>(dbias + g * D, dqb, dq->sn, N);                               \
                add_column_sums<D>(dbias + (h + g) * D, dkb, dk->sn, N);                         \
                add_column_sums<D>(dbias + (2 * h + g) * D, dvb, dv->sn, N);                     \
            }                                                                                    \
        }                                                                                        \
        free(dL);                                                                                \
        free(u);                                                                                 \
        free(lb);                                                                                \
        return 0;                                                                                \
    }                                                                                            \
                                                                                                 \
    /* The sum of the lanes, as a tree (log2(W) dependent steps, not W). */                    \
    static inline float hsum(vf v) {                                                             \
        float a[W];                                                                              \
        memcpy(a, &v, sizeof(a));                                                                \
        for (int half = W / 2; half > 0; half /= 2)                                              \
            for (int l = 0; l < half; ++l) a[l] += a[l + half];                                  \
        return a[0];                                                                             \
    }                                                                                            \
                                                                                                 \
    /* LayerNorm of rows [r0, r1) of x (rows of C floats) into out: two passes over each row  */ \
    /* (mean, then the variance of x - mean), both in W partial sums. mean, rstd: null, or     */ \
    /* the rows' mean and 1 / sqrt(var + eps) kept for the backward. P, Q: the rows, ordered   */ \
    /* (A, P, Q), are written in (A, Q, P) order (1, 1: in place). */                            \
    static void layer_norm(const float *x, float *out, const float *w, const float *b, int64_t C, \
                           float eps, int64_t r0, int64_t r1, float *mean_out, float *rstd_out,   \
                           int64_t P, int64_t Q) {                                               \
        const int64_t Cv = C - C % W;                                                            \
        Regrouped to(r0, P, Q);                                                                  \
        for (int64_t r = r0; r < r1; ++r, to.next()) {                                           \
            const float *xr = x + r * C;                                                         \
            float *orow = out + to.index() * C;                                                  \
            vf acc = (vf){};                                                                     \
            float tail = 0.0f;                                                                   \
            for (int64_t c = 0; c < Cv; c += W) acc += load(xr + c);                             \
            for (int64_t c = Cv; c < C; ++c) tail += xr[c];                                      \
            const float mean = (hsum(acc) + tail) / (float)C;                                    \
            acc = (vf){};                                                                        \
            tail = 0.0f;                                                                         \
            for (int64_t c = 0; c < Cv; c += W) { const vf d = load(xr + c) - mean; acc += d * d; } \
            for (int64_t c = Cv; c < C; ++c) { const float d = xr[c] - mean; tail += d * d; }    \
            const float rstd = 1.0f / __builtin_sqrtf((hsum(acc) + tail) / (float)C + eps);      \
            for (int64_t c = 0; c < Cv; c += W)                                                  \
                store(orow + c, (load(xr + c) - mean) * rstd * load(w + c) + load(b + c));       \
            for (int64_t c = Cv; c < C; ++c) orow[c] = (xr[c] - mean) * rstd * w[c] + b[c];       \
            if (mean_out) { mean_out[r] = mean; rstd_out[r] = rstd; }                            \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* LayerNorm's backward over rows [r0, r1): with xhat = (x - mean) * rstd and g = dy * w,  */ \
    /* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) written; dw += dy * xhat, db += dy    */ \
    /* into this thread's partial sums (C floats each). dy in the forward's output order.     */ \
    /* add: null, or a gradient (rows x C) added to dx (the residual stream's, for add_norm);  */ \
    /* dsum: null, or this thread's partial sums of dx over the rows (C floats). */              \
    static void layer_norm_backward(const float *x, const float *dy, const float *mean,         \
                                    const float *rstd, const float *w, const float *add,        \
                                    float *dx, float *dw, float *db, float *dsum, int64_t C,    \
                                    int64_t r0, int64_t r1, int64_t P, int64_t Q) {             \
        const int64_t Cv = C - C % W;                                                            \
        Regrouped from(r0, P, Q);                                                                \
        for (int64_t r = r0; r < r1; ++r, from.next()) {                                         \
            const float *xr = x + r * C, *gr = dy + from.index() * C;                            \
            float *dxr = dx + r * C;                                                             \
            const float m = mean[r], rs = rstd[r];                                               \
            vf sg = (vf){}, sgx = (vf){};                                                        \
            float tg = 0.0f, tgx = 0.0f;                                                         \
            for (int64_t c = 0; c < Cv; c += W) {                                                \
                const vf xh = (load(xr + c) - m) * rs, d = load(gr + c), g = d * load(w + c);   \
                sg += g; sgx += g * xh;                                                          \
                store(dw + c, load(dw + c) + d * xh);                                            \
                store(db + c, load(db + c) + d);                                                 \
            }                                                                                    \
            for (int64_t c = Cv; c < C; ++c) {                                                   \
                const float xh = (xr[c] - m) * rs, d = gr[c], g = d * w[c];                      \
                tg += g; tgx += g * xh; dw[c] += d * xh; db[c] += d;                             \
            }                                                                                    \
            const float mg = (hsum(sg) + tg) / (float)C, mgx = (hsum(sgx) + tgx) / (float)C;    \
            const float *ar = add ? add + r * C : NULL;                                          \
            for (int64_t c = 0; c < Cv; c += W) {                                                \
                const vf xh = (load(xr + c) - m) * rs;                                           \
                vf d = rs * (load(gr + c) * load(w + c) - mg - xh * mgx);                        \
                if (ar) d += load(ar + c);                                                       \
                store(dxr + c, d);                                                               \
                if (dsum) store(dsum + c, load(dsum + c) + d);                                   \
            }                                                                                    \
            for (int64_t c = Cv; c < C; ++c) {                                                   \
                float d = rs * (gr[c] * w[c] - mg - (xr[c] - m) * rs * mgx);                     \
                if (ar) d += ar[c];                                                              \
                dxr[c] = d;                                                                      \
                if (dsum) dsum[c] += d;                                                          \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* s = x + y (+ bias) for rows [r0, r1) of C into xs; where out is given, LayerNorm of s   */ \
    /* into out (as layer_norm, the same sums in the same order), mean and rstd kept. */         \
    static void add_norm(const float *x, const float *y, const float *bias, float *xs, float *out, \
                         const float *w, const float *b, int64_t C, float eps, int64_t r0,      \
                         int64_t r1, float *mean_out, float *rstd_out) {                         \
        const int64_t Cv = C - C % W;                                                            \
        for (int64_t r = r0; r < r1; ++r) {                                                      \
            const float *xr = x + r * C, *yr = y + r * C;                                        \
            float *sr = xs + r * C;                                                              \
            vf acc = (vf){};                                                                     \
            float tail = 0.0f;                                                                   \
            for (int64_t c = 0; c < Cv; c += W) {                                                \
                vf v = load(xr + c) + load(yr + c);                                              \
                if (bias) v += load(bias + c);                                                   \
                store(sr + c, v);                                                                \
                acc += v;                                                                        \
            }                                                                                    \
            for (int64_t c = Cv; c < C; ++c) {                                                   \
                sr[c] = xr[c] + yr[c] + (bias ? bias[c] : 0.0f);                                 \
                tail += sr[c];                                                                   \
            }                                                                                    \
            if (!out) continue;                                                                  \
            const float mean = (hsum(acc) + tail) / (float)C;                                    \
            acc = (vf){};                                                                        \
            tail = 0.0f;                                                                         \
            for (int64_t c = 0; c < Cv; c += W) { const vf d = load(sr + c) - mean; acc += d * d; } \
            for (int64_t c = Cv; c < C; ++c) { const float d = sr[c] - mean; tail += d * d; }    \
            const float rstd = 1.0f / __builtin_sqrtf((hsum(acc) + tail) / (float)C + eps);      \
            float *orow = out + r * C;                                                           \
            for (int64_t c = 0; c < Cv; c += W)                                                  \
                store(orow + c, (load(sr + c) - mean) * rstd * load(w + c) + load(b + c));       \
            for (int64_t c = Cv; c < C; ++c) orow[c] = (sr[c] - mean) * rstd * w[c] + b[c];       \
            mean_out[r] = mean;                                                                  \
            rstd_out[r] = rstd;                                                                  \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* erf by Abramowitz and Stegun 7.1.26 (|error| <= 1.5e-7), the formula of torch's own      */ \
    /* vectorised erf. |x| is capped at 4 (erf(4) is 1 in fp32) so that exp(-x^2) never comes    */ \
    /* near the subnormal range (subnormal products cost ~100 cycles each). */                    \
    /* *e: exp(-min(x^2, 16)), which GELU's backward reuses for the normal density. */          \
    static inline vf verf(vf x, vf *e) {                                                         \
        vf a = x < 0.0f ? -x : x;                                                                \
        a = a > 4.0f ? 4.0f : a;                                                                 \
        const vf t = 1.0f / (0.3275911f * a + 1.0f);                                             \
        const vf r = (((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f; \
        *e = vexp(-(a * a));                                                                     \
        const vf y = 1.0f - r * t * *e;                                                          \
        return x < 0.0f ? -y : y;                                                                \
    }                                                                                            \
                                                                                                 \
    /* GELU (exact form, x Phi(x)) of h + b over rows [r0, r1) of C channels into out. */        \
    static void bias_gelu(const float *h, const float *b, float *out, int64_t C, int64_t r0,     \
                          int64_t r1) {                                                          \
        const int64_t Cv = C - C % W;                                                            \
        for (int64_t r = r0; r < r1; ++r) {                                                      \
            const float *hr = h + r * C;                                                         \
            float *orow = out + r * C;                                                           \
            for (int64_t c = 0; c < Cv; c += W) {                                                \
                const vf u = load(hr + c) + load(b + c);                                         \
                vf e;                                                                            \
                store(orow + c, 0.5f * u * (1.0f + verf(u * 0.70710678118654752f, &e)));         \
            }                                                                                    \
            for (int64_t c = Cv; c < C; ++c) {                                                   \
                const float u = hr[c] + b[c];                                                    \
                orow[c] = 0.5f * u * (1.0f + erff(u * 0.70710678118654752f));                    \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* Its backward: dh = dy * (Phi(u) + u phi(u)), u = h + b, written; db += dh into this      */ \
    /* thread's partial sums (C floats). */                                                      \
    static void bias_gelu_backward(const float *h, const float *b, const float *dy, float *dh,   \
                                   float *db, int64_t C, int64_t r0, int64_t r1) {               \
        const int64_t Cv = C - C % W;                                                            \
        const float beta = 0.39894228040143268f; /* 1 / sqrt(2 pi) */                            \
        for (int64_t r = r0; r < r1; ++r) {                                                      \
            const float *hr = h + r * C, *gr = dy + r * C;                                       \
            float *dr = dh + r * C;                                                              \
            for (int64_t c = 0; c < Cv; c += W) {                                                \
                const vf u = load(hr + c) + load(b + c);                                         \
                vf e; /* exp(-u^2 / 2), for |u| up to 4 sqrt(2) (beyond: pdf 5e-8 for ~0) */      \
                const vf cdf = 0.5f * (1.0f + verf(u * 0.70710678118654752f, &e));               \
                const vf pdf = beta * e;                                                         \
                const vf d = load(gr + c) * (cdf + u * pdf);                                     \
                store(dr + c, d);                                                                \
                store(db + c, load(db + c) + d);                                                 \
            }                                                                                    \
            for (int64_t c = Cv; c < C; ++c) {                                                   \
                const float u = hr[c] + b[c];                                                    \
                const float cdf = 0.5f * (1.0f + erff(u * 0.70710678118654752f));                \
                const float d = gr[c] * (cdf + u * beta * expf(-0.5f * u * u));                  \
                dr[c] = d;                                                                       \
                db[c] += d;                                                                      \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    typedef int (*fwd_fn)(const View *, const View *, const View *, const View *, const float *, \
                          const float *, int64_t, int64_t, int64_t, float, float *, int64_t,     \
                          int64_t);                                                              \
    typedef int (*bwd_fn)(const View *, const View *, const View *, const View *, const float *, \
                          const float *, const float *, const View *, const View *, const View *, \
                          float *, float *, int64_t, int64_t, int64_t, float, int64_t, int64_t); \
    /* rows: head dim 16, 32, 64; columns: vectors of queries 1, 2, 4, ... (NV_COLUMNS) */      \
    static const fwd_fn FWD[3][NV_COLUMNS] = {                                                   \
        {forward<16, 1>, forward<16, 2>, forward<16, 4>, forward<16, 8>, forward<16, 16>, forward<16, 32>}, \
        {forward<32, 1>, forward<32, 2>, forward<32, 4>, forward<32, 8>, forward<32, 16>, forward<32, 32>}, \
        {forward<64, 1>, forward<64, 2>, forward<64, 4>, forward<64, 8>, forward<64, 16>, forward<64, 32>}, \
    };                                                                                           \
    static const bwd_fn BWD[3][NV_COLUMNS] = {                                                   \
        {backward<16, 1>, backward<16, 2>, backward<16, 4>, backward<16, 8>, backward<16, 16>, backward<16, 32>}, \
        {backward<32, 1>, backward<32, 2>, backward<32, 4>, backward<32, 8>, backward<32, 16>, backward<32, 32>}, \
        {backward<64, 1>, backward<64, 2>, backward<64, 4>, backward<64, 8>, backward<64, 16>, backward<64, 32>}, \
    };

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx2,fma")
#define STARPOSE_W 16
namespace isa_avx512 { STARPOSE_BODY }
#undef STARPOSE_W
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define STARPOSE_W 8
namespace isa_avx2 { STARPOSE_BODY }
#undef STARPOSE_W
#pragma GCC pop_options
#define STARPOSE_X86 1
#endif
#define STARPOSE_W 4  // 16-byte vectors: SSE2 on x86-64, NEON on ARM
namespace isa_base { STARPOSE_BODY }
#undef STARPOSE_W

// 0 baseline, 1 AVX2, 2 AVX-512: the best this CPU runs.
static int best_isa(void) {
#ifdef STARPOSE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

static int capped = 2;  // the highest code path allowed (tests run the lower ones too)

static int isa(void) {
    const int best = best_isa();
    return best < capped ? best : capped;
}

// The lanes of the code path isa (0, 1, 2).
static int lanes_of(int which) { return which == 2 ? 16 : which == 1 ? 8 : 4; }

// Indices into the tables: head dim (-1 if not covered) and vectors of queries at `lanes` per
// vector (-1 if too long).
static int dim_row(int64_t d) { return d == 16 ? 0 : d == 32 ? 1 : d == 64 ? 2 : -1; }
static int len_col(int64_t N, int lanes) {
    if (N < 1 || N > MAX_TOKENS) return -1;
    const int64_t nv = (N + lanes - 1) / lanes;
    int col = 0;
    while ((int64_t)1 << col < nv) ++col;
    return col < NV_COLUMNS ? col : -1;
}

static int threads_for(int threads, int64_t jobs) {
    if (threads < 1) threads = 1;
    return jobs < 2 * (int64_t)threads ? 1 : threads;
}

// Rows per thread below which the row-wise kernels (LayerNorm, GELU, residuals) run on one thread.
static int row_threads(int64_t rows, int threads) {
    if (threads < 1) threads = 1;
    return rows < 64 * (int64_t)threads ? 1 : threads;
}

// f(t, nt, i0, i1) on nthreads OpenMP threads, thread t of nt taking items [i0, i1) of n in a
// fixed partition (results do not depend on scheduling); the return codes or-ed together.
template <class F>
static int in_parallel(int64_t n, int nthreads, F f) {
    int rc = 0;
#pragma omp parallel num_threads(nthreads) reduction(| : rc)
    {
        int nt = 1, t = 0;
#ifdef _OPENMP
        nt = omp_get_num_threads();
        t = omp_get_thread_num();
#endif
        rc |= f(t, nt, n * t / nt, n * (t + 1) / nt);
    }
    return rc;
}

// `call` (a function of the code-path namespaces, with its arguments) on the code path `which`.
#ifdef STARPOSE_X86
#define ON_PATH(which, call) ((which) == 2 ? isa_avx512::call : (which) == 1 ? isa_avx2::call : isa_base::call)
#else
#define ON_PATH(which, call) (isa_base::call)
#endif

// Per-thread partial sums of n floats, zeroed, each thread's on cache lines of its own, then
// summed over the threads in order: the same bits for the same thread count.
struct Partials {
    int64_t per;
    float *p;
    int used = 1;  // the threads that ran (set by thread 0)
    Partials(int nthreads, int64_t n) : per((n + 15) / 16 * 16), p(NULL) {
        if (n == 0) return;
        p = (float *)aligned_alloc(64, round64((size_t)nthreads * per * sizeof(float)));
        if (p) memset(p, 0, (size_t)nthreads * per * sizeof(float));
    }
    ~Partials() { free(p); }
    bool failed(int64_t n) const { return n > 0 && !p; }
    float *of(int t) const { return p ? p + t * per : NULL; }
    float sum(int64_t i) const {
        float total = 0.0f;
        for (int t = 0; t < used; ++t) total += p[t * per + i];
        return total;
    }
};

extern "C" {

// The interface version: fused_cpu.py refuses a library built from another (an editable install
// keeps its built library when the source changes). Bump it with any change of these functions.
int starpose_fused_abi(void) { return 8; }

// Which code path runs here: 3 AVX-512, 2 AVX2, 1 baseline.
int starpose_fused_isa(void) { return isa() + 1; }

// Allow code paths up to `level` (1 baseline, 2 AVX2, 3 AVX-512; the CPU's best is never
// exceeded): for tests of the paths a CPU would otherwise never take. Returns the one now in use.
int starpose_fused_cap_isa(int level) {
    capped = level < 1 ? 0 : level > 3 ? 2 : level - 1;
    return isa() + 1;
}

// 1 if (d, N) is covered (head dim 16, 32 or 64; 1 to 128 positions), else 0.
int starpose_fused_supports(int64_t d, int64_t N) { return dim_row(d) >= 0 && len_col(N, 16) >= 0; }

// Floats per (sequence, head) of the saved weights on the code path in use (forward and
// backward must run on the same one): N * (N rounded up to whole vectors).
int64_t starpose_fused_probs_per_job(int64_t N) {
    const int lanes = lanes_of(isa()), c = len_col(N, lanes);
    return c < 0 ? 0 : N * ((int64_t)lanes << c);
}

// Forward of S sequences x h heads; bias: null, or (3, h, d) added to q, k and v as they are
// read (the qkv linear layer's bias); probs: null or starpose_fused_probs_per_job(N) * S * h
// floats to keep the weights for the backward. Returns 0, 1 (not covered), 2 (out of memory).
int starpose_fused_forward(const View *q, const View *k, const View *v, const View *out,
                           const float *wa, const float *bias, int64_t S, int64_t P, int64_t N,
                           int64_t h, int64_t d, float scale, float *probs, int threads) {
    const int which = isa();
    const int row = dim_row(d), col = len_col(N, lanes_of(which));
    if (row < 0 || col < 0 || P < 1) return 1;
    const int64_t total = S * h;
    return in_parallel(total, threads_for(threads, total), [&](int, int, int64_t j0, int64_t j1) {
        return ON_PATH(which, FWD[row][col](q, k, v, out, wa, bias, P, N, h, scale, probs, j0, j1));
    });
}

// Backward: dq, dk, dv (written, not accumulated) and, where wa is given, dwa (N, d) written;
// where bias (3, h, d) is given (the forward's), dbias (3, h, d): the sums of dq, dk and dv over
// sequences and positions, written. dwa and dbias are summed per thread, then over the threads in
// order: the same bits for the same thread count.
int starpose_fused_backward(const View *q, const View *k, const View *v, const View *grad_out,
                            const float *probs, const float *wa, const float *bias, const View *dq,
                            const View *dk, const View *dv, float *dwa, float *dbias, int64_t S,
                            int64_t P, int64_t N, int64_t h, int64_t d, float scale, int threads) {
    const int which = isa();
    const int row = dim_row(d), col = len_col(N, lanes_of(which));
    if (row < 0 || col < 0 || P < 1 || (bias == NULL) != (dbias == NULL)) return 1;
    const int64_t total = S * h;
    const int nthreads = threads_for(threads, total);
    const int64_t nwa = wa ? N * d : 0, nb = bias ? 3 * h * d : 0;  // per thread: dwa, then dbias
    Partials partial(nthreads, nwa + nb);
    if (partial.failed(nwa + nb)) return 2;
    const int rc = in_parallel(total, nthreads, [&](int t, int nt, int64_t j0, int64_t j1) {
        if (t == 0) partial.used = nt;
        float *mine = partial.of(t);
        return ON_PATH(which, BWD[row][col](q, k, v, grad_out, probs, wa, bias, dq, dk, dv, wa ? mine : NULL,
                                            bias ? mine + nwa : NULL, P, N, h, scale, j0, j1));
    });
    for (int64_t i = 0; i < nwa; ++i) dwa[i] = partial.sum(i);
    for (int64_t i = 0; i < nb; ++i) dbias[i] = partial.sum(nwa + i);
    return rc;
}

// LayerNorm over the last dim of x (rows x C, contiguous) into out, with weight and bias (C).
// mean, rstd: null, or rows floats each to keep the rows' mean and 1 / sqrt(var + eps). P, Q:
// the rows, ordered (A, P, Q), are written in (A, Q, P) order (the regrouping of tokens between
// MixSTE's spatial and temporal blocks, done by the write); 1, 1 keeps the order.
int starpose_layer_norm(const float *x, float *out, const float *w, const float *b, int64_t rows,
                        int64_t C, float eps, float *mean, float *rstd, int64_t P, int64_t Q,
                        int threads) {
    if (rows < 0 || C < 1 || (mean == NULL) != (rstd == NULL) || P < 1 || Q < 1 || rows % (P * Q))
        return 1;
    const int which = isa();
    return in_parallel(rows, row_threads(rows, threads), [&](int, int, int64_t r0, int64_t r1) {
        ON_PATH(which, layer_norm(x, out, w, b, C, eps, r0, r1, mean, rstd, P, Q));
        return 0;
    });
}

// LayerNorm's backward from the forward's x, mean and rstd: dx (rows x C), dw and db (C) written;
// dy in the forward's output order (P, Q as there). add: null, or a gradient (rows x C, in x's
// order) added to dx; dsum: null, or C floats for the sum of dx over the rows (add_norm's bias
// gradient). dw, db and dsum are summed per thread, then over the threads in order: the same
// bits for the same thread count. Returns 0, 1 (bad sizes) or 2 (out of memory).
int starpose_layer_norm_backward(const float *x, const float *dy, const float *mean,
                                 const float *rstd, const float *w, const float *add, float *dx,
                                 float *dw, float *db, float *dsum, int64_t rows, int64_t C,
                                 int64_t P, int64_t Q, int threads) {
    if (rows < 0 || C < 1 || P < 1 || Q < 1 || rows % (P * Q)) return 1;
    const int which = isa();
    const int nthreads = row_threads(rows, threads);
    Partials partial(nthreads, 3 * C);  // per thread: dw, db, dsum
    if (partial.failed(3 * C)) return 2;
    in_parallel(rows, nthreads, [&](int t, int nt, int64_t r0, int64_t r1) {
        if (t == 0) partial.used = nt;
        float *pw = partial.of(t), *pb = pw + C, *ps = dsum ? pw + 2 * C : NULL;
        ON_PATH(which, layer_norm_backward(x, dy, mean, rstd, w, add, dx, pw, pb, ps, C, r0, r1, P, Q));
        return 0;
    });
    for (int64_t c = 0; c < C; ++c) {
        dw[c] = partial.sum(c);
        db[c] = partial.sum(C + c);
        if (dsum) dsum[c] = partial.sum(2 * C + c);
    }
    return 0;
}

// A residual connection and the LayerNorm after it: xs = x + y (+ bias), and where out is given
// (with w, b, mean, rstd) out = LayerNorm(xs), rows x C, in one pass over each row. The
// LayerNorm's sums are layer_norm's. The backward is starpose_layer_norm_backward with add (the
// gradient of xs from later) and dsum (the bias's gradient).
int starpose_add_norm(const float *x, const float *y, const float *bias, float *xs, float *out,
                      const float *w, const float *b, int64_t rows, int64_t C, float eps,
                      float *mean, float *rstd, int threads) {
    if (rows < 0 || C < 1 || (out != NULL && (!w || !b || !mean || !rstd))) return 1;
    const int which = isa();
    return in_parallel(rows, row_threads(rows, threads), [&](int, int, int64_t r0, int64_t r1) {
        ON_PATH(which, add_norm(x, y, bias, xs, out, w, b, C, eps, r0, r1, mean, rstd));
        return 0;
    });
}

// GELU of h + b (rows x C, contiguous; b: C) into out: an MLP's first layer has its bias added
// here instead of in the matrix product.
int starpose_bias_gelu(const float *h, const float *b, float *out, int64_t rows, int64_t C,
                       int threads) {
    if (rows < 0 || C < 1) return 1;
    const int which = isa();
    return in_parallel(rows, row_threads(rows, threads), [&](int, int, int64_t r0, int64_t r1) {
        ON_PATH(which, bias_gelu(h, b, out, C, r0, r1));
        return 0;
    });
}

// Its backward: dh (rows x C) and db (C: the sum of dh over the rows, per thread and then over
// the threads in order) written. Returns 0, 1 (bad sizes) or 2 (out of memory).
int starpose_bias_gelu_backward(const float *h, const float *b, const float *dy, float *dh,
                                float *db, int64_t rows, int64_t C, int threads) {
    if (rows < 0 || C < 1) return 1;
    const int which = isa();
    const int nthreads = row_threads(rows, threads);
    Partials partial(nthreads, C);
    if (partial.failed(C)) return 2;
    in_parallel(rows, nthreads, [&](int t, int nt, int64_t r0, int64_t r1) {
        if (t == 0) partial.used = nt;
        ON_PATH(which, bias_gelu_backward(h, b, dy, dh, partial.of(t), C, r0, r1));
        return 0;
    });
    for (int64_t c = 0; c < C; ++c) db[c] = partial.sum(c);
    return 0;
}

}  // extern "C"
