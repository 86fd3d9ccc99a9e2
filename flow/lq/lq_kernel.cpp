// Bitwise CPU kernels for LQ/binary dense layers (64-bit words, hardware popcount) and the plain
// fp32 loop they are compared with. Built by flow.lq.cpu with g++ -O3 -march=native -ffp-contract=off.
#include <cstdint>
#include <cstring>

#define LQ_EXPORT extern "C" __attribute__((visibility("default")))

// x (batch, n) -> planes (batch, K, words): code of the nearest level, bit p = plane p.
// Levels are sorted; thresholds[l] = midpoint between level l and l + 1; codes[l] = code of level l.
template <class T>
static void encode_planes(const T *x, int batch, int n, const double *thresholds, const int32_t *codes, int n_levels,
                          int k, uint64_t *planes) {
    const int words = (n + 63) / 64;
    std::memset(planes, 0, sizeof(uint64_t) * (size_t)batch * k * words);
    for (int b = 0; b < batch; b++) {
        const T *xb = x + (size_t)b * n;
        uint64_t *pb = planes + (size_t)b * k * words;
        for (int i = 0; i < n; i++) {
            const double v = xb[i];
            int l = 0;
            while (l < n_levels - 1 && v >= thresholds[l]) // ties go to the upper level
                l++;
            const int32_t code = codes[l];
            for (int p = 0; p < k; p++)
                pb[p * words + (i >> 6)] |= (uint64_t)((code >> p) & 1) << (i & 63);
        }
    }
}

LQ_EXPORT void lq_encode(const float *x, int batch, int n, const double *thresholds, const int32_t *codes, int n_levels,
                         int k, uint64_t *planes) {
    encode_planes(x, batch, n, thresholds, codes, n_levels, k, planes);
}

// popcount(x ^ w) over `words` 64-bit words
static inline int xor_popcount(const uint64_t *x, const uint64_t *w, int words) {
    int pop = 0;
    for (int i = 0; i < words; i++)
        pop += __builtin_popcountll(x[i] ^ w[i]);
    return pop;
}

// y (batch, n_out) float64 = sum_p sum_q xb[p] wb[q, j] (n - 2 popcount(x_p ^ w_jq)) + bias[j]
// Outputs are taken four at a time so each input word is loaded once for four popcounts; the
// sum over (p, q) runs in the same order for every output (the numpy reference's order).
LQ_EXPORT void lq_dense(const uint64_t *x_planes, int batch, int kx, const double *x_basis, const uint64_t *w_planes,
                        int n_out, int kw, const double *w_basis, const double *bias, int n, double *y) {
    const int words = (n + 63) / 64;
    const size_t stride = (size_t)kw * words;
    for (int b = 0; b < batch; b++) {
        const uint64_t *xb = x_planes + (size_t)b * kx * words;
        double *yb = y + (size_t)b * n_out;
        int j = 0;
        for (; j + 4 <= n_out; j += 4) {
            double acc[4] = {0.0, 0.0, 0.0, 0.0};
            for (int p = 0; p < kx; p++) {
                const uint64_t *xp = xb + p * words;
                for (int q = 0; q < kw; q++) {
                    const uint64_t *w0 = w_planes + (size_t)j * stride + q * words;
                    int pop[4] = {0, 0, 0, 0};
                    for (int i = 0; i < words; i++) {
                        const uint64_t v = xp[i];
                        pop[0] += __builtin_popcountll(v ^ w0[i]);
                        pop[1] += __builtin_popcountll(v ^ w0[stride + i]);
                        pop[2] += __builtin_popcountll(v ^ w0[2 * stride + i]);
                        pop[3] += __builtin_popcountll(v ^ w0[3 * stride + i]);
                    }
                    for (int t = 0; t < 4; t++)
                        acc[t] += (x_basis[p] * w_basis[q * n_out + j + t]) * (double)(n - 2 * pop[t]);
                }
            }
            for (int t = 0; t < 4; t++)
                yb[j + t] = acc[t] + bias[j + t];
        }
        for (; j < n_out; j++) {
            const uint64_t *wj = w_planes + (size_t)j * stride;
            double acc = 0.0;
            for (int p = 0; p < kx; p++)
                for (int q = 0; q < kw; q++)
                    acc += (x_basis[p] * w_basis[q * n_out + j]) * (double)(n - 2 * xor_popcount(xb + p * words, wj + q * words, words));
            yb[j] = acc + bias[j];
        }
    }
}

// One LQ dense layer in one call (the hot path from Python): encode x (batch, n) float64 to
// planes in `scratch` (batch, kx, words), then lq_dense into y.
LQ_EXPORT void lq_layer(const double *x, int batch, int n, const double *thresholds, const int32_t *codes, int n_levels,
                        int kx, const double *x_basis, const uint64_t *w_planes, int n_out, int kw,
                        const double *w_basis, const double *bias, uint64_t *scratch, double *y) {
    encode_planes(x, batch, n, thresholds, codes, n_levels, kx, scratch);
    lq_dense(scratch, batch, kx, x_basis, w_planes, n_out, kw, w_basis, bias, n, y);
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
};

LQ_EXPORT void lq_chain(const double *x, int batch, int n_layers, const LQLayerDesc *layers, uint64_t *scratch,
                        double *buf_a, double *buf_b, double *y) {
    const double *in = x;
    for (int l = 0; l < n_layers; l++) {
        const LQLayerDesc &d = layers[l];
        double *out = (l == n_layers - 1) ? y : ((l % 2 == 0) ? buf_a : buf_b);
        lq_layer(in, batch, d.n, d.thresholds, d.codes, d.n_levels, d.kx, d.x_basis, d.w_planes, d.n_out, d.kw,
                 d.w_basis, d.bias, scratch, out);
        if (d.relu) {
            for (size_t i = 0; i < (size_t)batch * d.n_out; i++)
                out[i] = out[i] > 0.0 ? out[i] : 0.0;
        }
        in = out;
    }
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
