// Bitwise CPU kernels for LQ/binary dense layers (64-bit words, hardware popcount) and the plain
// fp32 loop they are compared with. Built by flow.lq.cpu with g++ -O3 -march=native -ffp-contract=off.
#include <cstdint>
#include <cstring>

#define LQ_EXPORT extern "C" __attribute__((visibility("default")))

// x (batch, n) float32 -> planes (batch, K, words): code of the nearest level, bit p = plane p.
// Levels are sorted; thresholds[l] = midpoint between level l and l + 1; codes[l] = code of level l.
LQ_EXPORT void lq_encode(const float *x, int batch, int n, const double *thresholds, const int32_t *codes, int n_levels,
                         int k, uint64_t *planes) {
    const int words = (n + 63) / 64;
    std::memset(planes, 0, sizeof(uint64_t) * (size_t)batch * k * words);
    for (int b = 0; b < batch; b++) {
        const float *xb = x + (size_t)b * n;
        uint64_t *pb = planes + (size_t)b * k * words;
        for (int i = 0; i < n; i++) {
            const double v = xb[i];
            int l = 0;
            while (l < n_levels - 1 && v > thresholds[l]) // ties go to the lower level
                l++;
            const int32_t code = codes[l];
            for (int p = 0; p < k; p++)
                pb[p * words + (i >> 6)] |= (uint64_t)((code >> p) & 1) << (i & 63);
        }
    }
}

// y (batch, n_out) float64 = sum_p sum_q xb[p] wb[q, j] (n - 2 popcount(x_p ^ w_jq)) + bias[j]
LQ_EXPORT void lq_dense(const uint64_t *x_planes, int batch, int kx, const double *x_basis, const uint64_t *w_planes,
                        int n_out, int kw, const double *w_basis, const double *bias, int n, double *y) {
    const int words = (n + 63) / 64;
    for (int b = 0; b < batch; b++) {
        const uint64_t *xb = x_planes + (size_t)b * kx * words;
        for (int j = 0; j < n_out; j++) {
            const uint64_t *wj = w_planes + (size_t)j * kw * words;
            double acc = 0.0;
            for (int p = 0; p < kx; p++) {
                for (int q = 0; q < kw; q++) {
                    int pop = 0;
                    const uint64_t *xp = xb + p * words;
                    const uint64_t *wq = wj + q * words;
                    for (int w = 0; w < words; w++)
                        pop += __builtin_popcountll(xp[w] ^ wq[w]);
                    acc += (x_basis[p] * w_basis[q * n_out + j]) * (double)(n - 2 * pop);
                }
            }
            y[(size_t)b * n_out + j] = acc + bias[j];
        }
    }
}

// One LQ dense layer in one call (the hot path from Python): encode x (batch, n) float64 to
// planes in `scratch` (batch, kx, words), then lq_dense into y.
LQ_EXPORT void lq_layer(const double *x, int batch, int n, const double *thresholds, const int32_t *codes, int n_levels,
                        int kx, const double *x_basis, const uint64_t *w_planes, int n_out, int kw,
                        const double *w_basis, const double *bias, uint64_t *scratch, double *y) {
    const int words = (n + 63) / 64;
    std::memset(scratch, 0, sizeof(uint64_t) * (size_t)batch * kx * words);
    for (int b = 0; b < batch; b++) {
        const double *xb = x + (size_t)b * n;
        uint64_t *pb = scratch + (size_t)b * kx * words;
        for (int i = 0; i < n; i++) {
            int l = 0;
            while (l < n_levels - 1 && xb[i] > thresholds[l])
                l++;
            const int32_t code = codes[l];
            for (int p = 0; p < kx; p++)
                pb[p * words + (i >> 6)] |= (uint64_t)((code >> p) & 1) << (i & 63);
        }
    }
    lq_dense(scratch, batch, kx, x_basis, w_planes, n_out, kw, w_basis, bias, n, y);
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
