// LQ (learned-basis) and binary dense layer on bit-planes: XNOR + popcount in fabric, then the
// kx * kw basis products (LQ-Nets; flow/hls/lq_encode.py has the derivation).
//
// Weight row j: w_ij = 2^ew_j * sum_q mw_qj * e_qij, e in {-1, +1}, bit q of the code wc_ij is 1 for +1.
// Input i:      x_i  = 2^ex   * sum_p mx_p  * e_pi  over kx planes, the last one the offset plane
//               (always +1), unless no input is ever padded: then its constant share is in the bias. An LQ input is encoded
//               by comparing with the midpoints between its sorted levels; a fixed-point input uses its own two's-complement
//               bits.
// Output:       y_j = b_j + 2^(ex + ew_j) * sum_q mw_qj sum_p mx_p (n - 2 popcount(bx_p ^ bw_qj))
// Every type is sized by the generator so that nothing rounds: y equals x @ W + b exactly.
#ifndef NNET_LQ_DENSE_H_
#define NNET_LQ_DENSE_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_msq_stream.h"

namespace nnet {

// Default configuration. The backend derives one struct per layer and overrides every member.
struct lq_dense_config {
    static const unsigned n_in = 1;
    static const unsigned n_out = 1;
    static const unsigned kx = 2; // input planes, the offset plane included when there is one
    static const unsigned kw = 1; // weight planes
    static const unsigned reuse_factor = 1;
    static const unsigned lanes = 1;       // ceil(n_out / reuse_factor) rows in flight per cycle
    static const bool lq_input = false;    // true: LQ levels (midpoints), false: fixed-point bits
    static const bool offset_plane = true; // false: the offset's constant share is in the bias (no padding)
    static const unsigned n_levels = 2;    // levels of an LQ input (2^K)
    static const unsigned n_mid_alloc = 1; // max(n_levels - 1, 1)
    typedef ap_uint<1> weight_t;           // codes, kw bits
    typedef ap_int<8> basis_t;             // weight basis mantissas mw
    typedef ap_fixed<8, 4> bias_t;
    typedef ap_int<8> plane_t;  // n - 2 popcount
    typedef ap_int<32> accum_t; // the integer acc_j
    typedef ap_fixed<48, 24> out_accum_t;
    typedef ap_fixed<8, 4> mid_t;
    static int in_mantissa(unsigned p) { return 1; }
    static mid_t midpoint(unsigned l) { return 0; }
    static unsigned level_code(unsigned l) { return l; }
    static int row_shift(unsigned j) { return 0; }
};

// Input -> its kx plane bits (the offset plane on top unless it was folded into the bias).
template <class data_T, typename CONFIG_T, bool lq> struct lq_encoder;

template <class data_T, typename CONFIG_T> struct lq_encoder<data_T, CONFIG_T, true> {
    static ap_uint<CONFIG_T::kx> code(data_T x) {
        #pragma HLS INLINE
        unsigned idx = 0;
    Midpoints:
        for (unsigned l = 0; l + 1 < CONFIG_T::n_levels; l++) {
            #pragma HLS UNROLL
            if (x >= CONFIG_T::midpoint(l)) {
                idx++;
            }
        }
        ap_uint<CONFIG_T::kx> c = CONFIG_T::level_code(idx);
        if (CONFIG_T::offset_plane) {
            c[CONFIG_T::kx - 1] = 1;
        }
        return c;
    }
};

template <class data_T, typename CONFIG_T> struct lq_encoder<data_T, CONFIG_T, false> {
    static ap_uint<CONFIG_T::kx> code(data_T x) {
        #pragma HLS INLINE
        const unsigned bits = CONFIG_T::offset_plane ? CONFIG_T::kx - 1 : CONFIG_T::kx; // the data type's width
        ap_uint<CONFIG_T::kx> c = 0;
        c.range(bits - 1, 0) = x.range(bits - 1, 0);
        if (CONFIG_T::offset_plane) {
            c[CONFIG_T::kx - 1] = 1;
        }
        return c;
    }
};

template <class data_T, typename CONFIG_T> ap_uint<CONFIG_T::kx> lq_input_code(data_T x) {
    #pragma HLS INLINE
    return lq_encoder<data_T, CONFIG_T, CONFIG_T::lq_input>::code(x);
}

// acc_j: XNOR + popcount of every (input plane, weight plane) pair over the valid inputs.
template <typename CONFIG_T>
typename CONFIG_T::accum_t lq_row(ap_uint<CONFIG_T::kx> codes[CONFIG_T::n_in], bool valid[CONFIG_T::n_in],
                                  typename CONFIG_T::weight_t weights[CONFIG_T::n_out * CONFIG_T::n_in],
                                  typename CONFIG_T::basis_t basis[CONFIG_T::n_out * CONFIG_T::kw], unsigned j) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::plane_t plane_t;
    typedef typename CONFIG_T::accum_t accum_t;
    accum_t acc = 0;
WeightPlanes:
    for (unsigned q = 0; q < CONFIG_T::kw; q++) {
        #pragma HLS UNROLL
        accum_t inner = 0;
    InputPlanes:
        for (unsigned p = 0; p < CONFIG_T::kx; p++) {
            #pragma HLS UNROLL
            plane_t pop = 0;
            plane_t n = 0;
        Popcount:
            for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
                #pragma HLS UNROLL
                if (valid[i]) {
                    n++;
                    const bool x_bit = codes[i][p];
                    const bool w_bit = weights[j * CONFIG_T::n_in + i][q];
                    pop += plane_t(x_bit != w_bit); // XOR; the XNOR count is n - pop
                }
            }
            const plane_t dot = n - 2 * pop;
            inner += accum_t(CONFIG_T::in_mantissa(p) * dot);
        }
        acc += accum_t(basis[j * CONFIG_T::kw + q] * inner);
    }
    return acc;
}

// 2^shift * v, exact because out_accum_t covers both sides of the shift.
template <typename CONFIG_T> typename CONFIG_T::out_accum_t lq_scale(typename CONFIG_T::out_accum_t v, int shift) {
    #pragma HLS INLINE
    if (shift >= 0) {
        return v << shift;
    }
    return v >> (-shift);
}

// One input vector (Dense, or one receptive field of a convolution). Rows j = lane * reuse + cycle.
template <class res_T, typename CONFIG_T>
void lq_dense_planes(ap_uint<CONFIG_T::kx> codes[CONFIG_T::n_in], bool valid[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                     typename CONFIG_T::weight_t weights[CONFIG_T::n_out * CONFIG_T::n_in],
                     typename CONFIG_T::basis_t basis[CONFIG_T::n_out * CONFIG_T::kw],
                     typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::out_accum_t out_accum_t;
Reuse:
    for (unsigned cycle = 0; cycle < CONFIG_T::reuse_factor; cycle++) {
        #pragma HLS PIPELINE II=1 rewind
    Lanes:
        for (unsigned l = 0; l < CONFIG_T::lanes; l++) {
            #pragma HLS UNROLL
            const unsigned j = l * CONFIG_T::reuse_factor + cycle;
            if (j < CONFIG_T::n_out) {
                const typename CONFIG_T::accum_t acc = lq_row<CONFIG_T>(codes, valid, weights, basis, j);
                const out_accum_t v = lq_scale<CONFIG_T>(out_accum_t(acc), CONFIG_T::row_shift(j));
                res[j] = res_T(v + out_accum_t(biases[j]));
            }
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_compute(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                      typename CONFIG_T::weight_t weights[CONFIG_T::n_out * CONFIG_T::n_in],
                      typename CONFIG_T::basis_t basis[CONFIG_T::n_out * CONFIG_T::kw],
                      typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    ap_uint<CONFIG_T::kx> codes[CONFIG_T::n_in];
    bool valid[CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable=codes complete
    #pragma HLS ARRAY_PARTITION variable=valid complete
Encode:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        codes[i] = lq_input_code<data_T, CONFIG_T>(data[i]);
        valid[i] = true;
    }
    lq_dense_planes<res_T, CONFIG_T>(codes, valid, res, weights, basis, biases);
}

// Latency strategy: reuse_factor 1, every row in parallel, weights as constants in registers/LUTs.
template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_latency(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                      typename CONFIG_T::weight_t weights[CONFIG_T::n_out * CONFIG_T::n_in],
                      typename CONFIG_T::basis_t basis[CONFIG_T::n_out * CONFIG_T::kw],
                      typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS function_instantiate variable=weights,basis,biases
    #pragma HLS ARRAY_PARTITION variable=data complete
    #pragma HLS ARRAY_PARTITION variable=res complete
    #pragma HLS ARRAY_PARTITION variable=weights complete
    #pragma HLS ARRAY_PARTITION variable=basis complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    lq_dense_compute<data_T, res_T, CONFIG_T>(data, res, weights, basis, biases);
}

// Resource strategy: `lanes` rows per cycle over reuse_factor cycles, codes in ROM.
template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_resource(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                       typename CONFIG_T::weight_t weights[CONFIG_T::n_out * CONFIG_T::n_in],
                       typename CONFIG_T::basis_t basis[CONFIG_T::n_out * CONFIG_T::kw],
                       typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS function_instantiate variable=weights,basis,biases
    #pragma HLS ARRAY_PARTITION variable=data complete
    #pragma HLS ARRAY_PARTITION variable=res complete
    #pragma HLS ARRAY_RESHAPE variable=weights block factor=CONFIG_T::lanes
    #pragma HLS BIND_STORAGE variable=weights type=rom_np impl=bram
    #pragma HLS ARRAY_PARTITION variable=basis complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    lq_dense_compute<data_T, res_T, CONFIG_T>(data, res, weights, basis, biases);
}

// io_stream: read the input vector from its packets, compute, write the output packets.
template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_stream(hls::stream<data_T> &data, hls::stream<res_T> &res,
                     typename CONFIG_T::weight_t weights[CONFIG_T::n_out * CONFIG_T::n_in],
                     typename CONFIG_T::basis_t basis[CONFIG_T::n_out * CONFIG_T::kw],
                     typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    typename data_T::value_type in[CONFIG_T::n_in];
    typename res_T::value_type out[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable=in complete
    #pragma HLS ARRAY_PARTITION variable=out complete
    msq_read_packets<data_T, CONFIG_T::n_in>(data, in);
    lq_dense_compute<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(in, out, weights, basis, biases);
    msq_write_packets<res_T, CONFIG_T::n_out>(out, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_latency(hls::stream<data_T> &data, hls::stream<res_T> &res,
                      typename CONFIG_T::weight_t weights[CONFIG_T::n_out * CONFIG_T::n_in],
                      typename CONFIG_T::basis_t basis[CONFIG_T::n_out * CONFIG_T::kw],
                      typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS ARRAY_PARTITION variable=weights complete
    #pragma HLS ARRAY_PARTITION variable=basis complete
    lq_dense_stream<data_T, res_T, CONFIG_T>(data, res, weights, basis, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_resource(hls::stream<data_T> &data, hls::stream<res_T> &res,
                       typename CONFIG_T::weight_t weights[CONFIG_T::n_out * CONFIG_T::n_in],
                       typename CONFIG_T::basis_t basis[CONFIG_T::n_out * CONFIG_T::kw],
                       typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS ARRAY_RESHAPE variable=weights block factor=CONFIG_T::lanes
    #pragma HLS BIND_STORAGE variable=weights type=rom_np impl=bram
    lq_dense_stream<data_T, res_T, CONFIG_T>(data, res, weights, basis, biases);
}

} // namespace nnet

#endif
