// AXI-stream accelerator top around an hls4ml io_parallel model (MSQ flow).
//
// One value per stream word: an input word carries the code of one input_t value in its low
// bits, an output word the code of one result_t value. The top reads `n_samples` samples
// (an AXI-lite register), runs the model on each and writes the outputs; TLAST is set on
// the last word of the last sample, so one DMA transfer carries a whole batch.
//
// The generated msq_axi_config.h defines the config struct (sizes, lane widths, types) and
// MSQ_AXI_MODEL(x, y), the call of the model's top function.
#ifndef MSQ_AXI_TOP_H_
#define MSQ_AXI_TOP_H_

#include "ap_int.h"
#include "hls_stream.h"

#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
#define MSQ_HAVE_AP_AXI_SDATA 1
#endif
#endif

namespace msq {

#ifdef MSQ_HAVE_AP_AXI_SDATA
template <int W> using axis_word = ap_axiu<W, 0, 0, 0>;
#else
// The fields of ap_axiu<W, 0, 0, 0> that the top uses (for plain g++ C-simulation).
template <int W> struct axis_word {
    ap_uint<W> data;
    ap_uint<(W + 7) / 8> keep;
    ap_uint<(W + 7) / 8> strb;
    ap_uint<1> last;
};
#endif

// Default configuration; the generated struct overrides every member.
struct axi_config {
    static const unsigned n_in = 1;
    static const unsigned n_out = 1;
    static const unsigned in_lane = 8;
    static const unsigned out_lane = 8;
    typedef ap_fixed<8, 4> in_t;
    typedef ap_fixed<8, 4> out_t;
};

template <class CONFIG_T>
void read_sample(hls::stream<axis_word<CONFIG_T::in_lane> > &in, typename CONFIG_T::in_t x[CONFIG_T::n_in]) {
ReadInputs:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
#pragma HLS PIPELINE II = 1
        axis_word<CONFIG_T::in_lane> word = in.read();
        x[i].range(CONFIG_T::in_t::width - 1, 0) = word.data.range(CONFIG_T::in_t::width - 1, 0);
    }
}

template <class CONFIG_T>
void write_sample(hls::stream<axis_word<CONFIG_T::out_lane> > &out, typename CONFIG_T::out_t y[CONFIG_T::n_out],
                  bool last_sample) {
WriteOutputs:
    for (unsigned j = 0; j < CONFIG_T::n_out; j++) {
#pragma HLS PIPELINE II = 1
        axis_word<CONFIG_T::out_lane> word;
        word.data = 0;
        word.data.range(CONFIG_T::out_t::width - 1, 0) = y[j].range(CONFIG_T::out_t::width - 1, 0);
        word.keep = -1;
        word.strb = -1;
        word.last = (last_sample && j == CONFIG_T::n_out - 1) ? 1 : 0;
        out.write(word);
    }
}

} // namespace msq

#endif
