// LQ (learned-basis) and binary dense layer on bit-planes: XNOR + popcount in fabric, then the
// basis products (LQ-Nets; flow/hls/lq_encode.py has the derivation).
//
// Weight row j: w_ij = 2^ew_j * sum_q mw_qj * e_qij, e in {-1, +1}, bit q of the code wc_ij is 1 for +1.
// Input i:      x_i  = 2^ex   * sum_p mx_p  * e_pi  over kx planes, the last one the offset plane
//               (always +1), unless no input is ever padded: then its constant share is in the bias. An LQ
//               input is encoded by comparing with the midpoints between its sorted levels; a fixed-point
//               input uses its own two's-complement bits.
// Output:       y_j = 2^E * (B_j + sum_q mw'_qj sum_p mx_p (n - 2 popcount(bx_p ^ bw_qj)))
//               The generator folds each row's power of two 2^(ex + ew_j) into its mantissas
//               (mw'_qj = mw_qj 2^(ex + ew_j - E)) and puts the bias on the same grid (B_j = b_j 2^-E), so
//               the only scale is the layer's constant 2^E (out_exponent): wiring, no shifter.
// Every type is sized by the generator so that nothing rounds: y equals x @ W + b exactly.
//
// Hardware (flow/hls/lq_microarch.py describes it; flow/resources/lq.py costs it). The lanes fold rows:
// `lanes` = ceil(n_out / reuse_factor) lanes, lane l computes row l * reuse_factor + cycle in cycle `cycle`
// of one loop pipelined at II = 1 (rows past n_out are zero padding). A lane's index into every array is
// a compile-time offset plus the cycle counter; its results enter a per-lane shift register, so each
// output has a compile-time position (no division, modulo or run-time output index). Per lane and cycle:
//   - the row word: `segments` words of kw planes x seg_inputs bits (plane-major), read from the code ROM
//     (Resource: ARRAY_RESHAPE block factor=code_words over lanes*segments*reuse_factor words in lane order
//     makes that one ROM word of rom_width bits per cycle, in BRAM);
//   - kx * kw XNOR-popcounts per segment, the constant multiples by the input mantissas mx_p (shift-adds);
//   - kw products with the row's folded mantissa mw'_qj and one add of its integer bias, both read from
//     per-lane ROMs laid out like the codes (LUTRAM). With a run-time row (Resource) the product is a LUT
//     multiplier (BIND_OP impl=fabric: no DSP); with reuse_factor 1 (Latency) the row is a compile-time
//     constant and the product a constant multiple. The estimator costs it that way.
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
    static const unsigned seg_inputs = 1;  // inputs per row segment (kw * seg_inputs <= 48 bits)
    static const unsigned segments = 1;    // ceil(n_in / seg_inputs) segments per row
    static const unsigned code_words = 1;  // lanes * segments: the code ROM's reshape factor
    static const unsigned basis_words = 1; // lanes * kw: the basis ROM's reshape factor
    static const unsigned rom_width = 1;   // code ROM word: lanes * segments * kw * seg_inputs bits
    static const unsigned rom_depth = 1;   // reuse_factor words
    static const bool lq_input = false;    // true: LQ levels (midpoints), false: fixed-point bits
    static const bool offset_plane = true; // false: the offset's constant share is in the bias (no padding)
    static const unsigned n_levels = 2;    // levels of an LQ input (2^K)
    static const unsigned n_mid_alloc = 1; // max(n_levels - 1, 1)
    static const int out_exponent = 0;     // E: y = acc * 2^E
    typedef ap_uint<1> weight_t;           // one row segment: kw planes of seg_inputs bits
    typedef ap_int<8> basis_t;             // folded mantissas mw'
    typedef ap_int<8> bias_t;              // integer biases B
    typedef ap_int<8> count_t;             // popcounts and n - 2 popcount
    typedef ap_int<16> inner_t;            // sum_p mx_p (n - 2 popcount)
    typedef ap_int<32> accum_t;            // the integer B_j + sum_q mw'_qj inner_qj
    typedef ap_fixed<32, 32> scaled_t;     // accum_t's bits times 2^E
    typedef ap_fixed<8, 4> mid_t;
    static int in_mantissa(unsigned p) { return 1; }
    static mid_t midpoint(unsigned l) { return 0; }
    static unsigned level_code(unsigned l) { return l; }
};

#define LQ_DENSE_WEIGHTS                                                                                                 \
    typename CONFIG_T::weight_t wc[CONFIG_T::code_words * CONFIG_T::reuse_factor],                                      \
        typename CONFIG_T::basis_t aw[CONFIG_T::basis_words * CONFIG_T::reuse_factor],                                   \
        typename CONFIG_T::bias_t biases[CONFIG_T::lanes * CONFIG_T::reuse_factor]

// Input -> its kx plane bits (the offset plane on top unless it was folded into the bias).
template <class data_T, typename CONFIG_T, bool lq> struct lq_encoder;

template <class data_T, typename CONFIG_T> struct lq_encoder<data_T, CONFIG_T, true> {
    static ap_uint<CONFIG_T::kx> code(data_T x) {
        #pragma HLS INLINE
        // the midpoints ascend: the last one at or below x decides (constant table indices only)
        ap_uint<CONFIG_T::kx> c = CONFIG_T::level_code(0);
    Midpoints:
        for (unsigned l = 0; l + 1 < CONFIG_T::n_levels; l++) {
            #pragma HLS UNROLL
            if (x >= CONFIG_T::midpoint(l)) {
                c = CONFIG_T::level_code(l + 1);
            }
        }
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

// Popcount of one segment word: a compile-time adder tree of its bits.
template <typename CONFIG_T> typename CONFIG_T::count_t lq_popcount(ap_uint<CONFIG_T::seg_inputs> v) {
    #pragma HLS INLINE
    typename CONFIG_T::count_t n = 0;
Bits:
    for (unsigned t = 0; t < CONFIG_T::seg_inputs; t++) {
        #pragma HLS UNROLL
        n += v[t];
    }
    return n;
}

// Input codes and validity -> plane words xp[p * segments + s] (bit t: plane p of input s * seg_inputs + t)
// and the mask of the inputs that count (valid and below n_in). Wiring only.
template <typename CONFIG_T>
void lq_pack_planes(ap_uint<CONFIG_T::kx> codes[CONFIG_T::n_in], bool valid[CONFIG_T::n_in],
                    ap_uint<CONFIG_T::seg_inputs> xp[CONFIG_T::kx * CONFIG_T::segments],
                    ap_uint<CONFIG_T::seg_inputs> mask[CONFIG_T::segments]) {
    #pragma HLS INLINE
PackSegments:
    for (unsigned s = 0; s < CONFIG_T::segments; s++) {
        #pragma HLS UNROLL
    PackBits:
        for (unsigned t = 0; t < CONFIG_T::seg_inputs; t++) {
            #pragma HLS UNROLL
            const unsigned i = s * CONFIG_T::seg_inputs + t;
            const bool real = i < CONFIG_T::n_in;
            mask[s][t] = real && valid[i];
        PackPlanes:
            for (unsigned p = 0; p < CONFIG_T::kx; p++) {
                #pragma HLS UNROLL
                xp[p * CONFIG_T::segments + s][t] = real ? bool(codes[i][p]) : false;
            }
        }
    }
}

// One row from its segments, mantissas and bias: B + sum_q mw'_q sum_p mx_p (n - 2 popcount(xp ^ wq)).
template <typename CONFIG_T>
typename CONFIG_T::accum_t lq_row(ap_uint<CONFIG_T::seg_inputs> xp[CONFIG_T::kx * CONFIG_T::segments],
                                  ap_uint<CONFIG_T::seg_inputs> mask[CONFIG_T::segments], typename CONFIG_T::count_t n,
                                  typename CONFIG_T::weight_t words[CONFIG_T::segments],
                                  typename CONFIG_T::basis_t mant[CONFIG_T::kw], typename CONFIG_T::bias_t bias) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::count_t count_t;
    typedef typename CONFIG_T::inner_t inner_t;
    typedef typename CONFIG_T::accum_t accum_t;
    const unsigned seg = CONFIG_T::seg_inputs;
    accum_t acc = bias;
WeightPlanes:
    for (unsigned q = 0; q < CONFIG_T::kw; q++) {
        #pragma HLS UNROLL
        inner_t inner = 0;
    InputPlanes:
        for (unsigned p = 0; p < CONFIG_T::kx; p++) {
            #pragma HLS UNROLL
            count_t pop = 0;
        Segments:
            for (unsigned s = 0; s < CONFIG_T::segments; s++) {
                #pragma HLS UNROLL
                const ap_uint<seg> w = words[s].range((q + 1) * seg - 1, q * seg);
                pop += lq_popcount<CONFIG_T>((xp[p * CONFIG_T::segments + s] ^ w) & mask[s]); // XOR; XNOR count is n - pop
            }
            const count_t dot = n - 2 * pop;
            inner += inner_t(CONFIG_T::in_mantissa(p) * dot); // constant multiple
        }
        accum_t prod;
        prod = mant[q] * inner;
        #pragma HLS BIND_OP variable=prod op=mul impl=fabric
        acc += prod;
    }
    return acc;
}

// One reuse cycle of every lane: lane l computes row l * reuse_factor + cycle and shifts it into its
// reuse_factor results rows[l * reuse_factor ...]; after reuse_factor cycles rows[j] is row j.
template <typename CONFIG_T>
void lq_lanes_step(ap_uint<CONFIG_T::seg_inputs> xp[CONFIG_T::kx * CONFIG_T::segments],
                   ap_uint<CONFIG_T::seg_inputs> mask[CONFIG_T::segments], typename CONFIG_T::count_t n, unsigned cycle,
                   typename CONFIG_T::accum_t rows[CONFIG_T::lanes * CONFIG_T::reuse_factor], LQ_DENSE_WEIGHTS) {
    #pragma HLS INLINE
    const unsigned rf = CONFIG_T::reuse_factor;
Lanes:
    for (unsigned l = 0; l < CONFIG_T::lanes; l++) {
        #pragma HLS UNROLL
        typename CONFIG_T::weight_t words[CONFIG_T::segments];
        typename CONFIG_T::basis_t mant[CONFIG_T::kw];
        #pragma HLS ARRAY_PARTITION variable=words complete
        #pragma HLS ARRAY_PARTITION variable=mant complete
    LaneWords:
        for (unsigned s = 0; s < CONFIG_T::segments; s++) {
            #pragma HLS UNROLL
            words[s] = wc[(l * CONFIG_T::segments + s) * rf + cycle];
        }
    LaneBasis:
        for (unsigned q = 0; q < CONFIG_T::kw; q++) {
            #pragma HLS UNROLL
            mant[q] = aw[(l * CONFIG_T::kw + q) * rf + cycle];
        }
        const typename CONFIG_T::accum_t acc = lq_row<CONFIG_T>(xp, mask, n, words, mant, biases[l * rf + cycle]);
    LaneShift:
        for (unsigned k = 0; k + 1 < rf; k++) {
            #pragma HLS UNROLL
            rows[l * rf + k] = rows[l * rf + k + 1];
        }
        rows[l * rf + rf - 1] = acc;
    }
}

// Row j's integer times 2^E (a reinterpretation of its bits), exact in res_T.
template <class res_T, typename CONFIG_T> res_T lq_scaled(typename CONFIG_T::accum_t acc) {
    #pragma HLS INLINE
    typename CONFIG_T::scaled_t v;
    v.range() = acc.range();
    return res_T(v);
}

template <class res_T, typename CONFIG_T>
void lq_write_rows(typename CONFIG_T::accum_t rows[CONFIG_T::lanes * CONFIG_T::reuse_factor], res_T res[CONFIG_T::n_out]) {
    #pragma HLS INLINE
WriteRows:
    for (unsigned j = 0; j < CONFIG_T::n_out; j++) {
        #pragma HLS UNROLL
        res[j] = lq_scaled<res_T, CONFIG_T>(rows[j]);
    }
}

// One input vector: encode, then the reuse loop (II = 1, reuse_factor iterations) drives every lane.
// Latency = reuse_factor + a pipeline depth (flow/hls/lq_microarch.py).
template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_compute(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out], LQ_DENSE_WEIGHTS) {
    #pragma HLS INLINE
    ap_uint<CONFIG_T::kx> codes[CONFIG_T::n_in];
    bool valid[CONFIG_T::n_in];
    ap_uint<CONFIG_T::seg_inputs> xp[CONFIG_T::kx * CONFIG_T::segments];
    ap_uint<CONFIG_T::seg_inputs> mask[CONFIG_T::segments];
    typename CONFIG_T::accum_t rows[CONFIG_T::lanes * CONFIG_T::reuse_factor];
    #pragma HLS ARRAY_PARTITION variable=codes complete
    #pragma HLS ARRAY_PARTITION variable=valid complete
    #pragma HLS ARRAY_PARTITION variable=xp complete
    #pragma HLS ARRAY_PARTITION variable=mask complete
    #pragma HLS ARRAY_PARTITION variable=rows complete
Encode:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        codes[i] = lq_input_code<data_T, CONFIG_T>(data[i]);
        valid[i] = true;
    }
    lq_pack_planes<CONFIG_T>(codes, valid, xp, mask);
    const typename CONFIG_T::count_t n = CONFIG_T::n_in;
ReuseLoop:
    for (unsigned cycle = 0; cycle < CONFIG_T::reuse_factor; cycle++) {
        #pragma HLS PIPELINE II=1
        lq_lanes_step<CONFIG_T>(xp, mask, n, cycle, rows, wc, aw, biases);
    }
    lq_write_rows<res_T, CONFIG_T>(rows, res);
}

// Latency strategy: every array a constant in logic (reuse_factor 1: every row is a compile-time lane).
template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_latency(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out], LQ_DENSE_WEIGHTS) {
    #pragma HLS function_instantiate variable=wc,aw,biases
    #pragma HLS ARRAY_PARTITION variable=data complete
    #pragma HLS ARRAY_PARTITION variable=res complete
    #pragma HLS ARRAY_PARTITION variable=wc complete
    #pragma HLS ARRAY_PARTITION variable=aw complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    lq_dense_compute<data_T, res_T, CONFIG_T>(data, res, wc, aw, biases);
}

// Resource strategy: `lanes` rows per cycle over reuse_factor cycles; one code ROM word (BRAM) and one
// basis and bias word (LUTRAM) per cycle.
template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_resource(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out], LQ_DENSE_WEIGHTS) {
    #pragma HLS function_instantiate variable=wc,aw,biases
    #pragma HLS ARRAY_PARTITION variable=data complete
    #pragma HLS ARRAY_PARTITION variable=res complete
    #pragma HLS ARRAY_RESHAPE variable=wc block factor=CONFIG_T::code_words
    #pragma HLS BIND_STORAGE variable=wc type=rom_1p impl=bram
    #pragma HLS ARRAY_RESHAPE variable=aw block factor=CONFIG_T::basis_words
    #pragma HLS BIND_STORAGE variable=aw type=rom_1p impl=lutram
    #pragma HLS ARRAY_RESHAPE variable=biases block factor=CONFIG_T::lanes
    #pragma HLS BIND_STORAGE variable=biases type=rom_1p impl=lutram
    lq_dense_compute<data_T, res_T, CONFIG_T>(data, res, wc, aw, biases);
}

// io_stream: read the input vector from its packets, compute, write the output packets.
template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_stream(hls::stream<data_T> &data, hls::stream<res_T> &res, LQ_DENSE_WEIGHTS) {
    typename data_T::value_type in[CONFIG_T::n_in];
    typename res_T::value_type out[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable=in complete
    #pragma HLS ARRAY_PARTITION variable=out complete
    msq_read_packets<data_T, CONFIG_T::n_in>(data, in);
    lq_dense_compute<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(in, out, wc, aw, biases);
    msq_write_packets<res_T, CONFIG_T::n_out>(out, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_latency(hls::stream<data_T> &data, hls::stream<res_T> &res, LQ_DENSE_WEIGHTS) {
    #pragma HLS ARRAY_PARTITION variable=wc complete
    #pragma HLS ARRAY_PARTITION variable=aw complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    lq_dense_stream<data_T, res_T, CONFIG_T>(data, res, wc, aw, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_dense_resource(hls::stream<data_T> &data, hls::stream<res_T> &res, LQ_DENSE_WEIGHTS) {
    #pragma HLS ARRAY_RESHAPE variable=wc block factor=CONFIG_T::code_words
    #pragma HLS BIND_STORAGE variable=wc type=rom_1p impl=bram
    #pragma HLS ARRAY_RESHAPE variable=aw block factor=CONFIG_T::basis_words
    #pragma HLS BIND_STORAGE variable=aw type=rom_1p impl=lutram
    #pragma HLS ARRAY_RESHAPE variable=biases block factor=CONFIG_T::lanes
    #pragma HLS BIND_STORAGE variable=biases type=rom_1p impl=lutram
    lq_dense_stream<data_T, res_T, CONFIG_T>(data, res, wc, aw, biases);
}

#undef LQ_DENSE_WEIGHTS

} // namespace nnet

#endif
