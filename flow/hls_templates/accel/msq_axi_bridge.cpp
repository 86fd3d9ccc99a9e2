// C-simulation bridge of the AXI top (g++ only, never synthesized): the simulated PYNQ device
// and the build's check call msq_axi_run through ctypes with the raw beats a DMA would stream.
#include <cstdint>

#include "msq_axi_config.h"

void MSQ_AXI_TOP(
    hls::stream<msq::axis_word<msq_axi_config::in_beat>> &in,
    hls::stream<msq::axis_word<msq_axi_config::out_beat>> &out,
    unsigned n_samples
);

#define MSQ_EXPORT __attribute__((visibility("default")))

extern "C" {

// Stream n_in_words input beats (one beat in the low bits of each uint64_t, TLAST on the last) through
// the top. Returns the number of output beats up to and including the first with TLAST, or
// -1 TLAST never came, -2 out_words is too small, -3 beats after TLAST, -4 TKEEP/TSTRB not all ones,
// -5 the top left input beats unread.
MSQ_EXPORT int
msq_axi_run(const uint64_t *in_words, unsigned n_in_words, uint64_t *out_words, unsigned max_out, unsigned n_samples) {
    typedef msq::axis_word<msq_axi_config::in_beat> in_word;
    typedef msq::axis_word<msq_axi_config::out_beat> out_word;
    hls::stream<in_word> in;
    hls::stream<out_word> out;
    for (unsigned i = 0; i < n_in_words; i++) {
        in_word word;
        word.data = in_words[i];
        word.keep = -1;
        word.strb = -1;
        word.last = (i == n_in_words - 1) ? 1 : 0;
        in.write(word);
    }
    MSQ_AXI_TOP(in, out, n_samples);
    if (!in.empty())
        return -5;
    unsigned n = 0;
    while (!out.empty()) {
        out_word word = out.read();
        if (n >= max_out)
            return -2;
        if (!word.keep.and_reduce() || !word.strb.and_reduce())
            return -4;
        out_words[n++] = word.data.to_uint64();
        if (word.last)
            return out.empty() ? (int)n : -3;
    }
    return -1;
}

// The stream format compiled in (checked against the overlay manifest).
MSQ_EXPORT unsigned msq_axi_n_in() { return msq_axi_config::n_in; }
MSQ_EXPORT unsigned msq_axi_n_out() { return msq_axi_config::n_out; }
MSQ_EXPORT unsigned msq_axi_in_lane() { return msq_axi_config::in_lane; }
MSQ_EXPORT unsigned msq_axi_out_lane() { return msq_axi_config::out_lane; }
MSQ_EXPORT unsigned msq_axi_in_beat() { return msq_axi_config::in_beat; }
MSQ_EXPORT unsigned msq_axi_out_beat() { return msq_axi_config::out_beat; }
MSQ_EXPORT unsigned msq_axi_in_per_beat() { return msq_axi_config::in_per_beat; }
MSQ_EXPORT unsigned msq_axi_out_per_beat() { return msq_axi_config::out_per_beat; }
MSQ_EXPORT unsigned msq_axi_in_beats() { return msq::beats<msq_axi_config>::in; }
MSQ_EXPORT unsigned msq_axi_out_beats() { return msq::beats<msq_axi_config>::out; }
MSQ_EXPORT unsigned msq_axi_io_stream() { return msq_axi_config::io_stream ? 1 : 0; }
}
