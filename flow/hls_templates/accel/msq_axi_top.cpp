// The accelerator's top function (static; msq_axi_config.h is generated per model).
#include "msq_axi_config.h"

void MSQ_AXI_TOP(hls::stream<msq::axis_word<msq_axi_config::in_lane> > &in_stream,
                 hls::stream<msq::axis_word<msq_axi_config::out_lane> > &out_stream, unsigned n_samples) {
#pragma HLS INTERFACE axis port = in_stream
#pragma HLS INTERFACE axis port = out_stream
#pragma HLS INTERFACE s_axilite port = n_samples
#pragma HLS INTERFACE s_axilite port = return
Samples:
    for (unsigned s = 0; s < n_samples; s++) {
        msq_axi_config::in_t x[msq_axi_config::n_in];
        msq_axi_config::out_t y[msq_axi_config::n_out];
        msq::read_sample<msq_axi_config>(in_stream, x);
        MSQ_AXI_MODEL(x, y);
        msq::write_sample<msq_axi_config>(out_stream, y, s == n_samples - 1);
    }
}
