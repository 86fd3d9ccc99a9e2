// Mixed-scheme (MSQ) dense layer: fixed-point rows on DSP multipliers, SP2 rows on LUT shift-add.
//
// Row j of the kernel is either
//   fixed point: w_ij = k_ij * 2^shift_j             (k_ij a signed integer of `bits` bits)
//   SP2:         w_ij = +-(2^-f1 + 2^-f2) * 2^shift_j  (a field of 0 means that term is zero)
// The fixed rows form one matrix processed by `fix_lanes` multipliers bound to DSPs; the SP2 rows
// form another processed by `sp2_lanes` shift-add units bound to fabric. One pipelined loop of
// `reuse_factor` cycles drives both lane sets, so the DSP and LUT lanes work in the same cycles. Every type is sized by the
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
    static const unsigned chunks = 1;          // ceil(n_in / reuse_factor): lanes per row (1 when folded)
    static const unsigned last_chunk = 1;      // n_in - (chunks - 1) * reuse_factor: busy cycles of a row's last lane
    static const unsigned rows_per_lane = 1;   // folded schedule: reuse_factor / n_in rows one after the other
    static const unsigned fix_lanes = 1;       // DSP lanes: n_fix * chunks, or ceil(n_fix / rows_per_lane)
    static const unsigned sp2_lanes = 0;       // LUT lanes: n_sp2 * chunks, or ceil(n_sp2 / rows_per_lane)
    static const unsigned fix_lanes_alloc = 1; // max(fix_lanes, 1)
    static const unsigned sp2_lanes_alloc = 1; // max(sp2_lanes, 1)
    static const bool rom_lutram = false;      // Resource: weight ROMs in LUTs (at most 64 words deep) or RAMB18
    static const unsigned fix_parts_alloc = 1; // max(n_fix * chunks, 1): row partial sums
    static const unsigned sp2_parts_alloc = 1; // max(n_sp2 * chunks, 1)
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

// Lane schedule (flow/hls/microarch.py). Split (reuse_factor <= n_in): each row's n_in products
// are cut into `chunks` = ceil(n_in / reuse_factor) runs of reuse_factor consecutive inputs; lane
// (r, ch) owns row r and inputs ch * reuse_factor + cycle, so its output row and input offset are
// compile-time constants and only the cycle counter moves; the last chunk of a row idles for the
// cycles past n_in, and the chunk partials of a row are added after the loop. Folded
// (reuse_factor = rows_per_lane * n_in): lane l computes rows l * rows_per_lane + k one after the
// other, k and the input index kept as counters (lane_clock), no division. In both, the generator
// lays the weights out so that lane l reads element l * reuse_factor + cycle: with ARRAY_RESHAPE
// block factor=lanes that is word `cycle` of the ROM (zero weights where a lane idles).

// Position inside one reuse pass: the cycle, and for the folded schedule the input index and the
// row k of each lane's group, advanced by counters.
template <typename CONFIG_T> struct lane_clock {
    unsigned cycle;
    unsigned input;
    unsigned group_row;

    void reset() {
        #pragma HLS INLINE
        cycle = 0;
        input = 0;
        group_row = 0;
    }
    bool last() const {
        #pragma HLS INLINE
        return cycle + 1 == CONFIG_T::reuse_factor;
    }
    void tick() {
        #pragma HLS INLINE
        cycle++;
        if (input + 1 == CONFIG_T::n_in) {
            input = 0;
            group_row++;
        } else {
            input++;
        }
    }
};

// Split schedule: one reuse cycle of every fixed-point (DSP) and SP2 (LUT) lane; cycle 0 restarts the sums.
template <class data_T, typename CONFIG_T>
void msq_lanes_split(data_T data[CONFIG_T::n_in], const lane_clock<CONFIG_T> &clk,
                     typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc],
                     typename CONFIG_T::sp2_accum_t sp2_part[CONFIG_T::sp2_parts_alloc],
                     typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor],
                     typename CONFIG_T::sp2_weight_t ws[CONFIG_T::sp2_lanes_alloc * CONFIG_T::reuse_factor]) {
    #pragma HLS INLINE
    const unsigned rf = CONFIG_T::reuse_factor;
    const unsigned chunks = CONFIG_T::chunks;
    const unsigned cycle = clk.cycle;
    const bool last_cycle_valid = cycle < CONFIG_T::last_chunk;
FixRows:
    for (unsigned r = 0; r < CONFIG_T::n_fix; r++) {
        #pragma HLS UNROLL
    FixChunks:
        for (unsigned ch = 0; ch < chunks; ch++) {
            #pragma HLS UNROLL
            const unsigned lane = r * chunks + ch;
            // past n_in the last lane of a row multiplies the last input by a zero weight
            const unsigned i = (ch + 1 < chunks || last_cycle_valid) ? ch * rf + cycle : CONFIG_T::n_in - 1;
            typename CONFIG_T::fix_prod_t prod;
            #pragma HLS BIND_OP variable=prod op=mul impl=dsp
            prod = data[i] * wf[lane * rf + cycle];
            fix_part[lane] = (cycle == 0 ? typename CONFIG_T::fix_accum_t(0) : fix_part[lane]) + prod;
        }
    }
Sp2Rows:
    for (unsigned r = 0; r < CONFIG_T::n_sp2; r++) {
        #pragma HLS UNROLL
    Sp2Chunks:
        for (unsigned ch = 0; ch < chunks; ch++) {
            #pragma HLS UNROLL
            const unsigned lane = r * chunks + ch;
            const unsigned i = (ch + 1 < chunks || last_cycle_valid) ? ch * rf + cycle : CONFIG_T::n_in - 1;
            const typename CONFIG_T::sp2_term_t term = msq_sp2_product<data_T, CONFIG_T>(data[i], ws[lane * rf + cycle]);
            sp2_part[lane] = (cycle == 0 ? typename CONFIG_T::sp2_accum_t(0) : sp2_part[lane]) + term;
        }
    }
}

// Folded schedule: every lane multiplies input `clk.input` of its current row; at the row's last
// input the sum lands in that row's register (k is compared with constants, no run-time index).
template <class data_T, typename CONFIG_T>
void msq_lanes_folded(data_T data[CONFIG_T::n_in], const lane_clock<CONFIG_T> &clk,
                      typename CONFIG_T::fix_accum_t fix_run[CONFIG_T::fix_lanes_alloc],
                      typename CONFIG_T::sp2_accum_t sp2_run[CONFIG_T::sp2_lanes_alloc],
                      typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc],
                      typename CONFIG_T::sp2_accum_t sp2_part[CONFIG_T::sp2_parts_alloc],
                      typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor],
                      typename CONFIG_T::sp2_weight_t ws[CONFIG_T::sp2_lanes_alloc * CONFIG_T::reuse_factor]) {
    #pragma HLS INLINE
    const unsigned rf = CONFIG_T::reuse_factor;
    const unsigned group = CONFIG_T::rows_per_lane;
    const data_T x = data[clk.input];
    const bool row_start = clk.input == 0;
    const bool row_end = clk.input + 1 == CONFIG_T::n_in;
FixLanes:
    for (unsigned l = 0; l < CONFIG_T::fix_lanes; l++) {
        #pragma HLS UNROLL
        typename CONFIG_T::fix_prod_t prod;
        #pragma HLS BIND_OP variable=prod op=mul impl=dsp
        prod = x * wf[l * rf + clk.cycle];
        const typename CONFIG_T::fix_accum_t acc = (row_start ? typename CONFIG_T::fix_accum_t(0) : fix_run[l]) + prod;
        fix_run[l] = acc;
    FixGroup:
        for (unsigned k = 0; k < group; k++) {
            #pragma HLS UNROLL
            if (row_end && k == clk.group_row && l * group + k < CONFIG_T::n_fix) {
                fix_part[l * group + k] = acc;
            }
        }
    }
Sp2Lanes:
    for (unsigned l = 0; l < CONFIG_T::sp2_lanes; l++) {
        #pragma HLS UNROLL
        const typename CONFIG_T::sp2_term_t term = msq_sp2_product<data_T, CONFIG_T>(x, ws[l * rf + clk.cycle]);
        const typename CONFIG_T::sp2_accum_t acc = (row_start ? typename CONFIG_T::sp2_accum_t(0) : sp2_run[l]) + term;
        sp2_run[l] = acc;
    Sp2Group:
        for (unsigned k = 0; k < group; k++) {
            #pragma HLS UNROLL
            if (row_end && k == clk.group_row && l * group + k < CONFIG_T::n_sp2) {
                sp2_part[l * group + k] = acc;
            }
        }
    }
}

// One reuse cycle of all lanes (the schedule is a compile-time choice).
template <class data_T, typename CONFIG_T>
void msq_lanes_step(data_T data[CONFIG_T::n_in], const lane_clock<CONFIG_T> &clk,
                    typename CONFIG_T::fix_accum_t fix_run[CONFIG_T::fix_lanes_alloc],
                    typename CONFIG_T::sp2_accum_t sp2_run[CONFIG_T::sp2_lanes_alloc],
                    typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc],
                    typename CONFIG_T::sp2_accum_t sp2_part[CONFIG_T::sp2_parts_alloc],
                    typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor],
                    typename CONFIG_T::sp2_weight_t ws[CONFIG_T::sp2_lanes_alloc * CONFIG_T::reuse_factor]) {
    #pragma HLS INLINE
    if (CONFIG_T::rows_per_lane == 1) {
        msq_lanes_split<data_T, CONFIG_T>(data, clk, fix_part, sp2_part, wf, ws);
    } else {
        msq_lanes_folded<data_T, CONFIG_T>(data, clk, fix_run, sp2_run, fix_part, sp2_part, wf, ws);
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

// Sum each row's chunk partials (compile-time adder trees), scale by the row's power of two, add the bias.
template <class res_T, typename CONFIG_T>
void msq_combine(typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc],
                 typename CONFIG_T::sp2_accum_t sp2_part[CONFIG_T::sp2_parts_alloc],
                 typename CONFIG_T::bias_t biases[CONFIG_T::n_out], res_T res[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::out_accum_t out_accum_t;
FixOut:
    for (unsigned r = 0; r < CONFIG_T::n_fix; r++) {
        #pragma HLS UNROLL
        typename CONFIG_T::fix_accum_t sum = 0;
    FixSum:
        for (unsigned ch = 0; ch < CONFIG_T::chunks; ch++) {
            #pragma HLS UNROLL
            sum += fix_part[r * CONFIG_T::chunks + ch];
        }
        const unsigned j = CONFIG_T::fix_row(r);
        out_accum_t v = msq_scale<CONFIG_T>(out_accum_t(sum), CONFIG_T::row_shift(j));
        res[j] = res_T(v + out_accum_t(biases[j]));
    }
Sp2Out:
    for (unsigned r = 0; r < CONFIG_T::n_sp2; r++) {
        #pragma HLS UNROLL
        typename CONFIG_T::sp2_accum_t sum = 0;
    Sp2Sum:
        for (unsigned ch = 0; ch < CONFIG_T::chunks; ch++) {
            #pragma HLS UNROLL
            sum += sp2_part[r * CONFIG_T::chunks + ch];
        }
        const unsigned j = CONFIG_T::sp2_row(r);
        out_accum_t v = msq_scale<CONFIG_T>(out_accum_t(sum), CONFIG_T::row_shift(j));
        res[j] = res_T(v + out_accum_t(biases[j]));
    }
}

// One input vector: the reuse loop (II = 1, reuse_factor iterations) drives both lane sets, then
// the rows are combined. Latency = reuse_factor + a pipeline depth (flow/hls/microarch.py).
template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_compute(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                       typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor],
                       typename CONFIG_T::sp2_weight_t ws[CONFIG_T::sp2_lanes_alloc * CONFIG_T::reuse_factor],
                       typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    typename CONFIG_T::fix_accum_t fix_run[CONFIG_T::fix_lanes_alloc];
    typename CONFIG_T::sp2_accum_t sp2_run[CONFIG_T::sp2_lanes_alloc];
    typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc];
    typename CONFIG_T::sp2_accum_t sp2_part[CONFIG_T::sp2_parts_alloc];
    #pragma HLS ARRAY_PARTITION variable=fix_run complete
    #pragma HLS ARRAY_PARTITION variable=sp2_run complete
    #pragma HLS ARRAY_PARTITION variable=fix_part complete
    #pragma HLS ARRAY_PARTITION variable=sp2_part complete
    lane_clock<CONFIG_T> clk;
    clk.reset();
ReuseLoop:
    for (unsigned cycle = 0; cycle < CONFIG_T::reuse_factor; cycle++) {
        #pragma HLS PIPELINE II=1
        msq_lanes_step<data_T, CONFIG_T>(data, clk, fix_run, sp2_run, fix_part, sp2_part, wf, ws);
        clk.tick();
    }
    msq_combine<res_T, CONFIG_T>(fix_part, sp2_part, biases, res);
}

// Latency strategy: every product has its own lane (reuse_factor = 1 gives one cycle),
// weights are constants spread over registers.
template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_latency(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                       typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor],
                       typename CONFIG_T::sp2_weight_t ws[CONFIG_T::sp2_lanes_alloc * CONFIG_T::reuse_factor],
                       typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS function_instantiate variable=wf,ws,biases
    #pragma HLS ARRAY_PARTITION variable=data complete
    #pragma HLS ARRAY_PARTITION variable=res complete
    #pragma HLS ARRAY_PARTITION variable=wf complete
    #pragma HLS ARRAY_PARTITION variable=ws complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    msq_dense_compute<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

// Where the Resource strategy's weight ROMs live: RAMB18 tiles, or distributed ROM (LUTs) when at
// most 64 words deep (CONFIG_T::rom_lutram, chosen by flow/hls/microarch.py). BIND_STORAGE's impl
// cannot come from a constant, so each choice is its own overload.
template <bool lutram> struct rom_in_lutram {};

#define MSQ_DENSE_WEIGHTS                                                                                                \
    typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor],                            \
        typename CONFIG_T::sp2_weight_t ws[CONFIG_T::sp2_lanes_alloc * CONFIG_T::reuse_factor],                        \
        typename CONFIG_T::bias_t biases[CONFIG_T::n_out]

template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_roms(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out], MSQ_DENSE_WEIGHTS, rom_in_lutram<false>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable=wf type=rom_1p impl=bram
    #pragma HLS BIND_STORAGE variable=ws type=rom_1p impl=bram
    msq_dense_compute<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_roms(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out], MSQ_DENSE_WEIGHTS, rom_in_lutram<true>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable=wf type=rom_1p impl=lutram
    #pragma HLS BIND_STORAGE variable=ws type=rom_1p impl=lutram
    msq_dense_compute<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

// Resource strategy: weights in ROM, `fix_lanes` shared DSP multipliers and `sp2_lanes` shared
// shift-add units; each cycle reads word `cycle` (one weight per lane) of each matrix's ROM.
template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_resource(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out], MSQ_DENSE_WEIGHTS) {
    #pragma HLS function_instantiate variable=wf,ws,biases
    #pragma HLS ARRAY_PARTITION variable=data complete
    #pragma HLS ARRAY_PARTITION variable=res complete
    #pragma HLS ARRAY_RESHAPE variable=wf block factor=CONFIG_T::fix_lanes_alloc
    #pragma HLS ARRAY_RESHAPE variable=ws block factor=CONFIG_T::sp2_lanes_alloc
    #pragma HLS ARRAY_PARTITION variable=biases complete
    msq_dense_roms<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases, rom_in_lutram<CONFIG_T::rom_lutram>());
}

// io_stream: read the input vector from its packets, compute, write the output packets.
template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_stream(hls::stream<data_T> &data, hls::stream<res_T> &res,
                      typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor],
                      typename CONFIG_T::sp2_weight_t ws[CONFIG_T::sp2_lanes_alloc * CONFIG_T::reuse_factor],
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
                       typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor],
                       typename CONFIG_T::sp2_weight_t ws[CONFIG_T::sp2_lanes_alloc * CONFIG_T::reuse_factor],
                       typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS ARRAY_PARTITION variable=wf complete
    #pragma HLS ARRAY_PARTITION variable=ws complete
    msq_dense_stream<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_stream_roms(hls::stream<data_T> &data, hls::stream<res_T> &res, MSQ_DENSE_WEIGHTS, rom_in_lutram<false>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable=wf type=rom_1p impl=bram
    #pragma HLS BIND_STORAGE variable=ws type=rom_1p impl=bram
    msq_dense_stream<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_stream_roms(hls::stream<data_T> &data, hls::stream<res_T> &res, MSQ_DENSE_WEIGHTS, rom_in_lutram<true>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable=wf type=rom_1p impl=lutram
    #pragma HLS BIND_STORAGE variable=ws type=rom_1p impl=lutram
    msq_dense_stream<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_dense_resource(hls::stream<data_T> &data, hls::stream<res_T> &res, MSQ_DENSE_WEIGHTS) {
    #pragma HLS ARRAY_RESHAPE variable=wf block factor=CONFIG_T::fix_lanes_alloc
    #pragma HLS ARRAY_RESHAPE variable=ws block factor=CONFIG_T::sp2_lanes_alloc
    msq_dense_stream_roms<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases, rom_in_lutram<CONFIG_T::rom_lutram>());
}

#undef MSQ_DENSE_WEIGHTS

} // namespace nnet

#endif
