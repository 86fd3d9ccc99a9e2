// C-simulation bridge of the AXI top (g++ only, never synthesized): the simulated PYNQ device
// calls msq_axi_run through ctypes with the raw words a DMA would stream.
#include <cstdint>

#include "msq_axi_config.h"

void MSQ_AXI_TOP(hls::stream<msq::axis_word<msq_axi_config::in_lane> > &in,
                 hls::stream<msq::axis_word<msq_axi_config::out_lane> > &out, unsigned n_samples);

#define MSQ_EXPORT __attribute__((visibility("default")))

extern "C" {

// Stream n_in_words input words through the top; returns the number of output words up to and
// including the one with TLAST, -1 if TLAST never came, -2 if out_words is too small.
MSQ_EXPORT int msq_axi_run(const uint64_t *in_words, unsigned n_in_words, uint64_t *out_words, unsigned max_out,
                unsigned n_samples) {
    hls::stream<msq::axis_word<msq_axi_config::in_lane> > in;
    hls::stream<msq::axis_word<msq_axi_config::out_lane> > out;
    for (unsigned i = 0; i < n_in_words; i++) {
        msq::axis_word<msq_axi_config::in_lane> word;
        word.data = in_words[i];
        word.keep = -1;
        word.strb = -1;
        word.last = (i == n_in_words - 1) ? 1 : 0;
        in.write(word);
    }
    MSQ_AXI_TOP(in, out, n_samples);
    unsigned n = 0;
    while (!out.empty()) {
        msq::axis_word<msq_axi_config::out_lane> word = out.read();
        if (n >= max_out)
            return -2;
        out_words[n++] = word.data.to_uint64();
        if (word.last)
            return out.empty() ? (int)n : -3;
    }
    return -1;
}

MSQ_EXPORT unsigned msq_axi_n_in() { return msq_axi_config::n_in; }
MSQ_EXPORT unsigned msq_axi_n_out() { return msq_axi_config::n_out; }
MSQ_EXPORT unsigned msq_axi_in_lane() { return msq_axi_config::in_lane; }
MSQ_EXPORT unsigned msq_axi_out_lane() { return msq_axi_config::out_lane; }
}
