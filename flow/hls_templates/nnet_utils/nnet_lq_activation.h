// QActivation(quantized_lq): every value goes to its nearest level c + <e, a> (ties to the upper
// level), found by comparing with the midpoints between the sorted levels: 2^K - 1 comparators,
// no arithmetic. The levels and midpoints are exact constants on the basis' fixed-point grid.
#ifndef NNET_LQ_ACTIVATION_H_
#define NNET_LQ_ACTIVATION_H_

#include "ap_fixed.h"
#include "hls_stream.h"
#include "nnet_common.h"

namespace nnet {

// Default configuration. The backend derives one struct per layer and overrides every member.
struct lq_activation_config {
    static const unsigned n_in = 1;
    static const unsigned n_levels = 2;
    typedef ap_fixed<8, 4> mid_t;
    typedef ap_fixed<8, 4> level_t;
    static mid_t midpoint(unsigned l) { return 0; }
    static level_t level(unsigned l) { return l == 0 ? -1 : 1; }
};

// The nearest level of one value: the number of midpoints at or below it indexes the sorted levels.
// The midpoints ascend, so the last one at or below x decides; every table index is a constant
// (no data-indexed ROM shared by the unrolled values).
template <class data_T, typename CONFIG_T> typename CONFIG_T::level_t lq_nearest_level(data_T x) {
    #pragma HLS INLINE
    typename CONFIG_T::level_t level = CONFIG_T::level(0);
Midpoints:
    for (unsigned l = 0; l + 1 < CONFIG_T::n_levels; l++) {
        #pragma HLS UNROLL
        if (x >= CONFIG_T::midpoint(l)) {
            level = CONFIG_T::level(l + 1);
        }
    }
    return level;
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_activation(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
    #pragma HLS PIPELINE
Values:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        res[i] = lq_nearest_level<data_T, CONFIG_T>(data[i]);
    }
}

// io_stream: packet by packet.
template <class data_T, class res_T, typename CONFIG_T>
void lq_activation(hls::stream<data_T> &data, hls::stream<res_T> &res) {
Packets:
    for (unsigned p = 0; p < CONFIG_T::n_in / data_T::size; p++) {
        #pragma HLS PIPELINE
        data_T in = data.read();
        res_T out;
    Values:
        for (unsigned c = 0; c < data_T::size; c++) {
            #pragma HLS UNROLL
            out[c] = lq_nearest_level<typename data_T::value_type, CONFIG_T>(in[c]);
        }
        res.write(out);
    }
}

} // namespace nnet

#endif
