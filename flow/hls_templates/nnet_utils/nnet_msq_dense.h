// Mixed-scheme (MSQ) dense layer: fixed-point rows on DSP multipliers, SP2 rows on LUT shift-add.
//
// Row j of the kernel is either
//   fixed point: w_ij = k_ij * 2^shift_j             (k_ij a signed integer of `bits` bits)
//   SP2:         w_ij = +-(2^-f1 + 2^-f2) * 2^shift_j  (a field of 0 means that term is zero)
// The fixed rows form one matrix processed by `fix_lanes` multipliers bound to DSPs; the SP2 rows
// form another processed by `sp2_lanes` shift-add units bound to fabric. Both run in the same
// `reuse_factor`-cycle loop, so the DSP and LUT lanes finish together. Every type is sized by the
// generator (flow/hls/encode.py) so that nothing rounds: the result equals x @ W + b exactly.
#ifndef NNET_MSQ_DENSE_H_
#define NNET_MSQ_DENSE_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_msq_stream.h"
#include "nnet_types.h"

namespace nnet {

// Default configuration. The backend derives one struct per layer and overrides every member.
struct msq_dense_config {
    static const unsigned n_in = 1;
    static const unsigned n_out = 1;
    static const unsigned n_fix = 1;       // fixed-point rows (DSP lanes)
    static const unsigned n_sp2 = 0;       // SP2 rows (LUT lanes)
    static const unsigned n_fix_alloc = 1; // max(n_fix, 1): C++ arrays cannot be empty
    static const unsigned n_sp2_alloc = 1; // max(n_sp2, 1)
    static const unsigned reuse_factor = 1;
    static const unsigned fix_lanes = 1; // ceil(n_in * n_fix / reuse_factor)
    static const unsigned sp2_lanes = 1; // ceil(n_in * n_sp2 / reuse_factor)
    static const unsigned m1 = 2;        // SP2 code: [sign | f1 (m1 bits) | f2 (m2 bits)]
    static const unsigned m2 = 1;
    typedef ap_int<4> fix_weight_t;
    typedef ap_uint<4> sp2_weight_t;
    typedef ap_fixed<8, 4> bias_t;
    typedef ap_fixed<20, 8> fix_prod_t;
    typedef ap_fixed<24, 12> fix_accum_t;
    typedef ap_fixed<24, 8> sp2_data_t;
    typedef ap_fixed<25, 9> sp2_term_t;
    typedef ap_fixed<32, 12> sp2_accum_t;
    typedef ap_fixed<40, 16> out_accum_t;
    // Output index of fixed row r / SP2 row r, and the power-of-two exponent of output j.
    static unsigned fix_row(unsigned r) { return r; }
    static unsigned sp2_row(unsigned r) { return n_fix + r; }
    static int row_shift(unsigned j) { return 0; }
};

// One SP2 product: +-((x >> f1) + (x >> f2)). Shifts and one add, no multiplier.
template <class data_T, typename CONFIG_T>
typename CONFIG_T::sp2_term_t msq_sp2_product(data_T x, typename CONFIG_T::sp2_weight_t code) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::sp2_data_t sp2_data_t;
    typedef typename CONFIG_T::sp2_term_t sp2_term_t;
    const sp2_data_t xs = x;
    const unsigned f1 = code.range(CONFIG_T::m1 + CONFIG_T::m2 - 1, CONFIG_T::m2).to_uint();
    const unsigned f2 = code.range(CONFIG_T::m2 - 1, 0).to_uint();
    const bool negative = code[CONFIG_T::m1 + CONFIG_T::m2] == 1;
    sp2_data_t t1 = 0;
    sp2_data_t t2 = 0;
    if (f1 != 0) {
        t1 = xs >> f1;
    }
    if (f2 != 0) {
        t2 = xs >> f2;
    }
    sp2_term_t sum = t1 + t2;
    #pragma HLS BIND_OP variable=sum op=add impl=fabric
    if (negative) {
        return sp2_term_t(-sum);
    }
    return sum;
}

// Fixed-point rows: products k = r * n_in + i, lane l takes k = l * reuse_factor + cycle.
template <class data_T, typename CONFIG_T>
void msq_fixed_lanes(data_T data[CONFIG_T::n_in], typename CONFIG_T::fix_accum_t acc[CONFIG_T::n_fix_alloc],
                     typename CONFIG_T::fix_weight_t weights[CONFIG_T::n_fix_alloc * CONFIG_T::n_in]) {
    #pragma HLS INLINE
    const unsigned n_prod = CONFIG_T::n_fix * CONFIG_T::n_in;
FixInit:
    for (unsigned r = 0; r < CONFIG_T::n_fix_alloc; r++) {
        #pragma HLS UNROLL
        acc[r] = 0;
    }
FixReuse:
    for (unsigned cycle = 0; cycle < CONFIG_T::reuse_factor; cycle++) {
        #pragma HLS PIPELINE II=1 rewind
    FixLane:
        for (unsigned l = 0; l < CONFIG_T::fix_lanes; l++) {
            #pragma HLS UNROLL
            const unsigned k = l * CONFIG_T::reuse_factor + cycle;
            if (k < n_prod) {
                typename CONFIG_T::fix_prod_t prod = data[k % CONFIG_T::n_in] * weights[k];
                #pragma HLS BIND_OP variable=prod op=mul impl=dsp
                acc[k / CONFIG_T::n_in] += prod;
            }
        }
    }
}

// SP2 rows: the same schedule on shift-add units.
template <class data_T, typename CONFIG_T>
void msq_sp2_lanes(data_T data[CONFIG_T::n_in], typename CONFIG_T::sp2_accum_t acc[CONFIG_T::n_sp2_alloc],
                   typename CONFIG_T::sp2_weight_t codes[CONFIG_T::n_sp2_alloc * CONFIG_T::n_in]) {
    #pragma HLS INLINE
    const unsigned n_prod = CONFIG_T::n_sp2 * CONFIG_T::n_in;
Sp2Init:
    for (unsigned r = 0; r < CONFIG_T::n_sp2_alloc; r++) {
        #pragma HLS UNROLL
        acc[r] = 0;
    }
Sp2Reuse:
    for (unsigned cycle = 0; cycle < CONFIG_T::reuse_factor; cycle++) {
        #pragma HLS PIPELINE II=1 rewind
    Sp2Lane:
        for (unsigned l = 0; l < CONFIG_T::sp2_lanes; l++) {
            #pragma HLS UNROLL
            const unsigned k = l * CONFIG_T::reuse_factor + cycle;
            if (k < n_prod) {
                acc[k / CONFIG_T::n_in] += msq_sp2_product<data_T, CONFIG_T>(data[k % CONFIG_T::n_in], codes[k]);
            }
        }
    }
}

// 2^shift * v, exact because out_accum_t covers both sides of the shift.
template <typename CONFIG_T>
typename CONFIG_T::out_accum_t msq_scale(typename CONFIG_T::out_accum_t v, int shift) {
    #pragma HLS INLINE
    if (shift >= 0) {
        return v << shift;
    }
    return v >> (-shift);
}

template <class res_T, typename CONFIG_T>
void msq_combine(typename CONFIG_T::fix_accum_t acc_fix[CONFIG_T::n_fix_alloc],
                 typename CONFIG_T::sp2_accum_t acc_sp2[CONFIG_T::n_sp2_alloc],
                 typename CONFIG_T::bias_t biases[CONFIG_T::n_out], res_T res[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::out_accum_t out_accum_t;
FixOut:
    for (unsigned r = 0; r < CONFIG_T::n_fix; r++) {
        #pragma HLS UNROLL
        const unsigned j = CONFIG_T::fix_row(r);
        out_accum_t v = msq_scale<CONFIG_T>(out_accum_t(acc_fix[r]), CONFIG_T::row_shift(j));
        res[j] = res_T(v + out_accum_t(biases[j]));
    }
Sp2Out:
    for (unsigned r = 0; r < CONFIG_T::n_sp2; r++) {
        #pragma HLS UNROLL
        const unsigned j = CONFIG_T::sp2_row(r);
        out_accum_t v = msq_scale<CONFIG_T>(out_accum_t(acc_sp2[r]), CONFIG_T::row_shift(j));
        res[j] = res_T(v + out_accum_t(biases[j]));
    }
}

// Lanes and combine for one input vector (shared by Dense and by every pixel of a convolution).
template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_compute(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                       typename CONFIG_T::fix_weight_t wf[CONFIG_T::n_fix_alloc * CONFIG_T::n_in],
                       typename CONFIG_T::sp2_weight_t ws[CONFIG_T::n_sp2_alloc * CONFIG_T::n_in],
                       typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    typename CONFIG_T::fix_accum_t acc_fix[CONFIG_T::n_fix_alloc];
    typename CONFIG_T::sp2_accum_t acc_sp2[CONFIG_T::n_sp2_alloc];
    #pragma HLS ARRAY_PARTITION variable=acc_fix complete
    #pragma HLS ARRAY_PARTITION variable=acc_sp2 complete
    msq_fixed_lanes<data_T, CONFIG_T>(data, acc_fix, wf);
    msq_sp2_lanes<data_T, CONFIG_T>(data, acc_sp2, ws);
    msq_combine<res_T, CONFIG_T>(acc_fix, acc_sp2, biases, res);
}

// Latency strategy: every product has its own lane (reuse_factor = 1 gives one cycle),
// weights are constants spread over registers.
template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_latency(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                       typename CONFIG_T::fix_weight_t wf[CONFIG_T::n_fix_alloc * CONFIG_T::n_in],
                       typename CONFIG_T::sp2_weight_t ws[CONFIG_T::n_sp2_alloc * CONFIG_T::n_in],
                       typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS function_instantiate variable=wf,ws,biases
    #pragma HLS ARRAY_PARTITION variable=data complete
    #pragma HLS ARRAY_PARTITION variable=res complete
    #pragma HLS ARRAY_PARTITION variable=wf complete
    #pragma HLS ARRAY_PARTITION variable=ws complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    msq_dense_compute<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

// Resource strategy: reuse_factor > 1, weights in ROM, `fix_lanes` shared DSP multipliers and
// `sp2_lanes` shared shift-add units; each cycle reads one word of lanes weights per matrix.
template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_resource(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                        typename CONFIG_T::fix_weight_t wf[CONFIG_T::n_fix_alloc * CONFIG_T::n_in],
                        typename CONFIG_T::sp2_weight_t ws[CONFIG_T::n_sp2_alloc * CONFIG_T::n_in],
                        typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS function_instantiate variable=wf,ws,biases
    #pragma HLS ARRAY_PARTITION variable=data complete
    #pragma HLS ARRAY_PARTITION variable=res complete
    #pragma HLS ARRAY_RESHAPE variable=wf block factor=CONFIG_T::fix_lanes
    #pragma HLS ARRAY_RESHAPE variable=ws block factor=CONFIG_T::sp2_lanes
    #pragma HLS BIND_STORAGE variable=wf type=rom_np impl=bram
    #pragma HLS BIND_STORAGE variable=ws type=rom_np impl=bram
    #pragma HLS ARRAY_PARTITION variable=biases complete
    msq_dense_compute<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

// io_stream: read the input vector from its packets, compute, write the output packets.
template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_stream(hls::stream<data_T> &data, hls::stream<res_T> &res,
                      typename CONFIG_T::fix_weight_t wf[CONFIG_T::n_fix_alloc * CONFIG_T::n_in],
                      typename CONFIG_T::sp2_weight_t ws[CONFIG_T::n_sp2_alloc * CONFIG_T::n_in],
                      typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    typename data_T::value_type in[CONFIG_T::n_in];
    typename res_T::value_type out[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable=in complete
    #pragma HLS ARRAY_PARTITION variable=out complete
    msq_read_packets<data_T, CONFIG_T::n_in>(data, in);
    msq_dense_compute<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(in, out, wf, ws, biases);
    msq_write_packets<res_T, CONFIG_T::n_out>(out, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_latency(hls::stream<data_T> &data, hls::stream<res_T> &res,
                       typename CONFIG_T::fix_weight_t wf[CONFIG_T::n_fix_alloc * CONFIG_T::n_in],
                       typename CONFIG_T::sp2_weight_t ws[CONFIG_T::n_sp2_alloc * CONFIG_T::n_in],
                       typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS ARRAY_PARTITION variable=wf complete
    #pragma HLS ARRAY_PARTITION variable=ws complete
    msq_dense_stream<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_resource(hls::stream<data_T> &data, hls::stream<res_T> &res,
                        typename CONFIG_T::fix_weight_t wf[CONFIG_T::n_fix_alloc * CONFIG_T::n_in],
                        typename CONFIG_T::sp2_weight_t ws[CONFIG_T::n_sp2_alloc * CONFIG_T::n_in],
                        typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS ARRAY_RESHAPE variable=wf block factor=CONFIG_T::fix_lanes
    #pragma HLS ARRAY_RESHAPE variable=ws block factor=CONFIG_T::sp2_lanes
    #pragma HLS BIND_STORAGE variable=wf type=rom_np impl=bram
    #pragma HLS BIND_STORAGE variable=ws type=rom_np impl=bram
    msq_dense_stream<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

} // namespace nnet

#endif
