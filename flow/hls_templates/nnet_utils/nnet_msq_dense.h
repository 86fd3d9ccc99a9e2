// Mixed-scheme (MSQ) dense layer: fixed-point rows on DSP multipliers, SP2 rows on LUT shift-add.
//
// Row j of the kernel is either
//   fixed point: w_ij = k_ij * 2^shift_j             (k_ij a signed integer of `bits` bits)
//   SP2:         w_ij = +-(2^-f1 + 2^-f2) * 2^shift_j  (a field of 0 means that term is zero)
// The fixed rows form one matrix processed by `fix_lanes` multipliers bound to DSPs; the SP2 rows
// form another processed by `sp2_lanes` shift-add units bound to fabric. One pipelined loop of
// `reuse_factor` cycles drives both lane sets, so the DSP and LUT lanes work in the same cycles. Every type is sized by the
// generator (flow/hls/encode.py) so that nothing rounds: the result equals x @ W + b exactly.
//
// DSP packing (flow/hls/microarch.py: plan_dsp_packing, DSPPack; WP486/WP521). Two fixed rows that read
// the same input x in the same cycle (split schedule: rows 2p and 2p+1, same chunk; folded: lanes 2p and
// 2p+1) share one DSP48E1:
//   AD = w_a * 2^k + w_b                       pre-adder, D = w_a << k, A = w_b (25-bit signed)
//   P  = 2^(k-1) + sum_n AD * x                x on the 18-bit B port, C = 2^(k-1), 48-bit P (wraps)
//   sum w_a * x = P[47:k]                      (signed, 48 - k bits)
//   sum w_b * x = P[k-1:0] with its MSB inverted (signed, k bits)
// The constant 2^(k-1) is the sign correction: without it P >> k is one too small whenever the low sum is
// negative (the plain WP521 INT4 recipe's error); with it no adder is needed outside the DSP. Exact when,
// with [p_min, p_max] the range of one product w * x (w: signed fix_weight_bits, x: the data's raw integer)
// and n the products summed in P before the split:
//   (B) x fits the B port:            data_width + (data_signed ? 0 : 1) <= 18
//   (L) the low field holds the sum:  -2^(k-1) <= n * p_min  and  n * p_max <= 2^(k-1) - 1
//   (A) AD fits the A port:           fix_weight_bits + k <= 24
//   (P) the high field holds the sum: k <= 48 - k (it has the same range as the low one)
// n = pack_terms: the lane's whole row partial (reuse_factor split, n_in folded; pack_in_dsp, P
// accumulates like a DSP MAC), or 1 (P split every cycle, the two sums accumulated in fabric). The
// generator picks the smallest k of (L); msq_dsp_pack_check re-checks all four with static_assert.
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
    static const bool dsp_packed = false;      // two fixed rows per DSP48E1 (see the top of this file)
    static const unsigned fix_pairs = 0;       // packed: ceil(n_fix / 2) row pairs (split), ceil(fix_lanes / 2) lane pairs (folded)
    static const unsigned fix_dsps = 1;        // DSP48E1 of the fixed rows: fix_lanes, or fix_pairs (* chunks, split) packed
    static const unsigned fix_dsps_alloc = 1;  // max(fix_dsps, 1)
    static const unsigned pack_shift = 1;      // k: AD = w_a * 2^k + w_b
    static const unsigned pack_terms = 1;      // n: products summed in P before it is split
    static const bool pack_in_dsp = false;     // n > 1: P accumulates the row partial; else split every cycle
    static const unsigned fix_weight_bits = 4; // width of fix_weight_t
    static const unsigned data_width = 8;      // the data's raw integer: width and sign (the DSP's B operand)
    static const bool data_signed = true;
    static const int data_frac = 0;            // its fractional bits: the scale of every fixed partial
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

// The DSP48E1's operand and result widths (UG479): A (the pre-adder output AD) 25-bit, B 18-bit, the
// product M 43-bit, P 48-bit, all signed. C-simulation computes with exactly these widths.
typedef ap_int<25> msq_dsp_a_t;
typedef ap_int<18> msq_dsp_b_t;
typedef ap_int<43> msq_dsp_m_t;
typedef ap_int<48> msq_dsp_p_t;

// The packing conditions (B), (L), (A), (P) of the top of this file, from the config's widths.
template <typename CONFIG_T> struct msq_dsp_pack_check {
    static const long long b_bits = CONFIG_T::data_width + (CONFIG_T::data_signed ? 0 : 1);
    static const long long w_lo = -(1LL << (CONFIG_T::fix_weight_bits - 1));
    static const long long w_hi = (1LL << (CONFIG_T::fix_weight_bits - 1)) - 1;
    static const long long x_lo = CONFIG_T::data_signed ? -(1LL << (CONFIG_T::data_width - 1)) : 0;
    static const long long x_hi = CONFIG_T::data_signed ? (1LL << (CONFIG_T::data_width - 1)) - 1 : (1LL << CONFIG_T::data_width) - 1;
    static const long long c0 = w_lo * x_lo, c1 = w_lo * x_hi, c2 = w_hi * x_lo, c3 = w_hi * x_hi;
    static const long long p_lo = (c0 < c1 ? c0 : c1) < (c2 < c3 ? c2 : c3) ? (c0 < c1 ? c0 : c1) : (c2 < c3 ? c2 : c3);
    static const long long p_hi = (c0 > c1 ? c0 : c1) > (c2 > c3 ? c2 : c3) ? (c0 > c1 ? c0 : c1) : (c2 > c3 ? c2 : c3);
    static const long long n = CONFIG_T::pack_terms;
    static const long long half = 1LL << (CONFIG_T::pack_shift - 1);
    static_assert(!CONFIG_T::dsp_packed || b_bits <= 18, "DSP packing (B): the data is wider than the DSP48E1's 18-bit B port");
    static_assert(!CONFIG_T::dsp_packed || (n * p_lo >= -half && n * p_hi <= half - 1),
                  "DSP packing (L): the sum of pack_terms products does not fit the low field of pack_shift bits");
    static_assert(!CONFIG_T::dsp_packed || CONFIG_T::fix_weight_bits + CONFIG_T::pack_shift <= 24,
                  "DSP packing (A): w_a * 2^pack_shift + w_b does not fit the DSP48E1's 25-bit A port");
    static_assert(!CONFIG_T::dsp_packed || CONFIG_T::pack_shift <= 48 - CONFIG_T::pack_shift,
                  "DSP packing (P): the high field does not fit the rest of the 48-bit P");
    static_assert(!CONFIG_T::dsp_packed || CONFIG_T::pack_in_dsp == (CONFIG_T::pack_terms > 1),
                  "DSP packing: pack_in_dsp means pack_terms > 1");
};

// The data as the DSP sees it: its raw integer (the fractional bits are the partials' common scale).
template <class data_T, typename CONFIG_T> msq_dsp_b_t msq_dsp_data(data_T x) {
    #pragma HLS INLINE
    static const int w = CONFIG_T::data_width + (CONFIG_T::data_signed ? 0 : 1);
    const ap_fixed<w, w - CONFIG_T::data_frac> xs = x; // exact: the data type, signed
    ap_int<w> raw = 0;
    raw.range(w - 1, 0) = xs.range(w - 1, 0);
    return msq_dsp_b_t(raw);
}

// A raw field (a sum of integer products) as a fixed-point partial of the data's scale.
template <typename T, int W, typename CONFIG_T> T msq_dsp_field(ap_int<W> raw) {
    #pragma HLS INLINE
    ap_fixed<W, W - CONFIG_T::data_frac> v = 0;
    v.range(W - 1, 0) = raw.range(W - 1, 0);
    return T(v);
}

// The correction constant: P restarts from 2^(k-1) (the C port) instead of 0.
template <typename CONFIG_T> msq_dsp_p_t msq_dsp_c() {
    #pragma HLS INLINE
    return msq_dsp_p_t(1) << (CONFIG_T::pack_shift - 1);
}

// One DSP48E1 cycle: P' = c + (w_a * 2^k + w_b) * x, c the constant or P itself (accumulate).
template <typename CONFIG_T>
msq_dsp_p_t msq_dsp_mac(msq_dsp_p_t c, msq_dsp_b_t x, typename CONFIG_T::fix_weight_t wa, typename CONFIG_T::fix_weight_t wb) {
    #pragma HLS INLINE
    (void)sizeof(msq_dsp_pack_check<CONFIG_T>);
    const msq_dsp_a_t d = msq_dsp_a_t(wa) << CONFIG_T::pack_shift; // D port
    const msq_dsp_a_t ad = d + msq_dsp_a_t(wb);                    // pre-adder: 25 bits, (A) keeps it exact
    msq_dsp_m_t m;
    #pragma HLS BIND_OP variable=m op=mul impl=dsp
    m = ad * x;
    // The post-adder (C or P plus M, wrapping at 48 bits like P) is left unbound: a BIND_OP on it can keep
    // Vitis HLS from matching pre-add + multiply + add into one DSP48E1 (UG1399) and fixes its latency.
    const msq_dsp_p_t p = c + m;
    return p;
}

// sum w_a * x: P[47:k], exact thanks to the 2^(k-1) offset of the low field.
template <typename CONFIG_T> typename CONFIG_T::fix_accum_t msq_dsp_high(msq_dsp_p_t p) {
    #pragma HLS INLINE
    const ap_int<48 - CONFIG_T::pack_shift> high = p >> CONFIG_T::pack_shift;
    return msq_dsp_field<typename CONFIG_T::fix_accum_t, 48 - CONFIG_T::pack_shift, CONFIG_T>(high);
}

// sum w_b * x: P[k-1:0] minus the 2^(k-1) offset, i.e. with its top bit inverted.
template <typename CONFIG_T> typename CONFIG_T::fix_accum_t msq_dsp_low(msq_dsp_p_t p) {
    #pragma HLS INLINE
    const ap_uint<CONFIG_T::pack_shift> field = p; // P[k-1:0]
    ap_int<CONFIG_T::pack_shift> low;               // field - 2^(k-1) modulo 2^k: a bit flip, no adder
    low.range(CONFIG_T::pack_shift - 1, 0) = field;
    low[CONFIG_T::pack_shift - 1] = !field[CONFIG_T::pack_shift - 1];
    return msq_dsp_field<typename CONFIG_T::fix_accum_t, CONFIG_T::pack_shift, CONFIG_T>(low);
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

// Whether the fixed rows are packed two per DSP: each choice is its own overload, so that an unpacked
// layer never instantiates the packed code (and its static_asserts).
template <bool packed> struct dsp_packing {};

// Packed split schedule: DSP p * chunks + ch serves rows 2p (high field) and 2p + 1 (low field, none
// past n_fix) on chunk ch; both lanes read input ch * reuse_factor + cycle. In-DSP accumulation keeps
// the row partials in P (restarted from the correction constant at cycle 0) and splits it every cycle
// (wires); otherwise P is split every cycle and each field is summed in fabric.
template <class data_T, typename CONFIG_T>
void msq_fix_split(data_T data[CONFIG_T::n_in], const lane_clock<CONFIG_T> &clk,
                   msq_dsp_p_t pack_acc[CONFIG_T::fix_dsps_alloc],
                   typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc],
                   typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor], dsp_packing<true>) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::fix_accum_t fix_accum_t;
    const unsigned rf = CONFIG_T::reuse_factor;
    const unsigned chunks = CONFIG_T::chunks;
    const unsigned cycle = clk.cycle;
    const bool last_cycle_valid = cycle < CONFIG_T::last_chunk;
FixPairs:
    for (unsigned p = 0; p < CONFIG_T::fix_pairs; p++) {
        #pragma HLS UNROLL
    FixPairChunks:
        for (unsigned ch = 0; ch < chunks; ch++) {
            #pragma HLS UNROLL
            const unsigned la = 2 * p * chunks + ch; // row 2p
            const unsigned lb = la + chunks;         // row 2p + 1
            const bool has_b = 2 * p + 1 < CONFIG_T::n_fix;
            const unsigned dsp = p * chunks + ch;
            const unsigned i = (ch + 1 < chunks || last_cycle_valid) ? ch * rf + cycle : CONFIG_T::n_in - 1;
            const typename CONFIG_T::fix_weight_t wb = has_b ? wf[lb * rf + cycle] : typename CONFIG_T::fix_weight_t(0);
            const msq_dsp_b_t x = msq_dsp_data<data_T, CONFIG_T>(data[i]);
            if (CONFIG_T::pack_in_dsp) {
                const msq_dsp_p_t acc = msq_dsp_mac<CONFIG_T>(cycle == 0 ? msq_dsp_c<CONFIG_T>() : pack_acc[dsp], x,
                                                              wf[la * rf + cycle], wb);
                pack_acc[dsp] = acc;
                fix_part[la] = msq_dsp_high<CONFIG_T>(acc);
                if (has_b) {
                    fix_part[lb] = msq_dsp_low<CONFIG_T>(acc);
                }
            } else {
                const msq_dsp_p_t prod = msq_dsp_mac<CONFIG_T>(msq_dsp_c<CONFIG_T>(), x, wf[la * rf + cycle], wb);
                fix_part[la] = (cycle == 0 ? fix_accum_t(0) : fix_part[la]) + msq_dsp_high<CONFIG_T>(prod);
                if (has_b) {
                    fix_part[lb] = (cycle == 0 ? fix_accum_t(0) : fix_part[lb]) + msq_dsp_low<CONFIG_T>(prod);
                }
            }
        }
    }
}

template <class data_T, typename CONFIG_T>
void msq_fix_split(data_T data[CONFIG_T::n_in], const lane_clock<CONFIG_T> &clk,
                   msq_dsp_p_t pack_acc[CONFIG_T::fix_dsps_alloc],
                   typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc],
                   typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor], dsp_packing<false>) {}

// Packed folded schedule: DSP p serves lanes 2p (high field) and 2p + 1 (low field, none past
// fix_lanes), which read the same input; at a row's last input the two sums land in their rows.
template <class data_T, typename CONFIG_T>
void msq_fix_folded(data_T data[CONFIG_T::n_in], const lane_clock<CONFIG_T> &clk,
                    msq_dsp_p_t pack_acc[CONFIG_T::fix_dsps_alloc],
                    typename CONFIG_T::fix_accum_t fix_run[CONFIG_T::fix_lanes_alloc],
                    typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc],
                    typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor], dsp_packing<true>) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::fix_accum_t fix_accum_t;
    const unsigned rf = CONFIG_T::reuse_factor;
    const unsigned group = CONFIG_T::rows_per_lane;
    const msq_dsp_b_t x = msq_dsp_data<data_T, CONFIG_T>(data[clk.input]);
    const bool row_start = clk.input == 0;
    const bool row_end = clk.input + 1 == CONFIG_T::n_in;
FixPairLanes:
    for (unsigned p = 0; p < CONFIG_T::fix_pairs; p++) {
        #pragma HLS UNROLL
        const unsigned la = 2 * p;
        const unsigned lb = 2 * p + 1;
        const bool has_b = lb < CONFIG_T::fix_lanes;
        const typename CONFIG_T::fix_weight_t wb = has_b ? wf[lb * rf + clk.cycle] : typename CONFIG_T::fix_weight_t(0);
        fix_accum_t high, low;
        if (CONFIG_T::pack_in_dsp) {
            const msq_dsp_p_t acc = msq_dsp_mac<CONFIG_T>(row_start ? msq_dsp_c<CONFIG_T>() : pack_acc[p], x,
                                                          wf[la * rf + clk.cycle], wb);
            pack_acc[p] = acc;
            high = msq_dsp_high<CONFIG_T>(acc);
            low = msq_dsp_low<CONFIG_T>(acc);
        } else {
            const msq_dsp_p_t prod = msq_dsp_mac<CONFIG_T>(msq_dsp_c<CONFIG_T>(), x, wf[la * rf + clk.cycle], wb);
            high = (row_start ? fix_accum_t(0) : fix_run[la]) + msq_dsp_high<CONFIG_T>(prod);
            fix_run[la] = high;
            low = msq_dsp_low<CONFIG_T>(prod);
            if (has_b) {
                low = (row_start ? fix_accum_t(0) : fix_run[lb]) + low;
                fix_run[lb] = low;
            }
        }
    FixPairGroup:
        for (unsigned k = 0; k < group; k++) {
            #pragma HLS UNROLL
            if (row_end && k == clk.group_row) {
                if (la * group + k < CONFIG_T::n_fix) {
                    fix_part[la * group + k] = high;
                }
                if (has_b && lb * group + k < CONFIG_T::n_fix) {
                    fix_part[lb * group + k] = low;
                }
            }
        }
    }
}

template <class data_T, typename CONFIG_T>
void msq_fix_folded(data_T data[CONFIG_T::n_in], const lane_clock<CONFIG_T> &clk,
                    msq_dsp_p_t pack_acc[CONFIG_T::fix_dsps_alloc],
                    typename CONFIG_T::fix_accum_t fix_run[CONFIG_T::fix_lanes_alloc],
                    typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc],
                    typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor], dsp_packing<false>) {}

// Split schedule: one reuse cycle of every fixed-point (DSP) and SP2 (LUT) lane; cycle 0 restarts the sums.
template <class data_T, typename CONFIG_T>
void msq_lanes_split(data_T data[CONFIG_T::n_in], const lane_clock<CONFIG_T> &clk,
                     msq_dsp_p_t pack_acc[CONFIG_T::fix_dsps_alloc],
                     typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc],
                     typename CONFIG_T::sp2_accum_t sp2_part[CONFIG_T::sp2_parts_alloc],
                     typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor],
                     typename CONFIG_T::sp2_weight_t ws[CONFIG_T::sp2_lanes_alloc * CONFIG_T::reuse_factor]) {
    #pragma HLS INLINE
    const unsigned rf = CONFIG_T::reuse_factor;
    const unsigned chunks = CONFIG_T::chunks;
    const unsigned cycle = clk.cycle;
    const bool last_cycle_valid = cycle < CONFIG_T::last_chunk;
    msq_fix_split<data_T, CONFIG_T>(data, clk, pack_acc, fix_part, wf, dsp_packing<CONFIG_T::dsp_packed>());
FixRows:
    for (unsigned r = 0; r < (CONFIG_T::dsp_packed ? 0 : CONFIG_T::n_fix); r++) {
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
                      msq_dsp_p_t pack_acc[CONFIG_T::fix_dsps_alloc],
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
    msq_fix_folded<data_T, CONFIG_T>(data, clk, pack_acc, fix_run, fix_part, wf, dsp_packing<CONFIG_T::dsp_packed>());
FixLanes:
    for (unsigned l = 0; l < (CONFIG_T::dsp_packed ? 0 : CONFIG_T::fix_lanes); l++) {
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
                    msq_dsp_p_t pack_acc[CONFIG_T::fix_dsps_alloc],
                    typename CONFIG_T::fix_accum_t fix_run[CONFIG_T::fix_lanes_alloc],
                    typename CONFIG_T::sp2_accum_t sp2_run[CONFIG_T::sp2_lanes_alloc],
                    typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc],
                    typename CONFIG_T::sp2_accum_t sp2_part[CONFIG_T::sp2_parts_alloc],
                    typename CONFIG_T::fix_weight_t wf[CONFIG_T::fix_lanes_alloc * CONFIG_T::reuse_factor],
                    typename CONFIG_T::sp2_weight_t ws[CONFIG_T::sp2_lanes_alloc * CONFIG_T::reuse_factor]) {
    #pragma HLS INLINE
    if (CONFIG_T::rows_per_lane == 1) {
        msq_lanes_split<data_T, CONFIG_T>(data, clk, pack_acc, fix_part, sp2_part, wf, ws);
    } else {
        msq_lanes_folded<data_T, CONFIG_T>(data, clk, pack_acc, fix_run, sp2_run, fix_part, sp2_part, wf, ws);
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
    static_assert(data_T::width == CONFIG_T::data_width, "the config's data_width must be the layer input's width");
    msq_dsp_p_t pack_acc[CONFIG_T::fix_dsps_alloc]; // P of the packed DSPs
    typename CONFIG_T::fix_accum_t fix_run[CONFIG_T::fix_lanes_alloc];
    typename CONFIG_T::sp2_accum_t sp2_run[CONFIG_T::sp2_lanes_alloc];
    typename CONFIG_T::fix_accum_t fix_part[CONFIG_T::fix_parts_alloc];
    typename CONFIG_T::sp2_accum_t sp2_part[CONFIG_T::sp2_parts_alloc];
    #pragma HLS ARRAY_PARTITION variable=pack_acc complete
    #pragma HLS ARRAY_PARTITION variable=fix_run complete
    #pragma HLS ARRAY_PARTITION variable=sp2_run complete
    #pragma HLS ARRAY_PARTITION variable=fix_part complete
    #pragma HLS ARRAY_PARTITION variable=sp2_part complete
    lane_clock<CONFIG_T> clk;
    clk.reset();
ReuseLoop:
    for (unsigned cycle = 0; cycle < CONFIG_T::reuse_factor; cycle++) {
        #pragma HLS PIPELINE II=1
        msq_lanes_step<data_T, CONFIG_T>(data, clk, pack_acc, fix_run, sp2_run, fix_part, sp2_part, wf, ws);
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
