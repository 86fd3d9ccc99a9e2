// The accelerator's top function (static; msq_axi_config.h is generated per model): DATAFLOW over
// receive -> compute -> send (msq_axi_top.h), each looping over the n_samples samples of a batch.
#include "msq_axi_config.h"

void MSQ_AXI_TOP(
    hls::stream<msq::axis_word<msq_axi_config::in_beat>> &in_stream,
    hls::stream<msq::axis_word<msq_axi_config::out_beat>> &out_stream,
    unsigned n_samples
) {
#pragma HLS INTERFACE axis port = in_stream
#pragma HLS INTERFACE axis port = out_stream
#pragma HLS INTERFACE s_axilite port = n_samples
#pragma HLS INTERFACE s_axilite port = return
#pragma HLS DATAFLOW
    typedef msq::axi_io<msq_axi_config> io;
    hls::stream<io::in_item> x("msq_axi_x");
    hls::stream<io::out_item> y("msq_axi_y");
#pragma HLS STREAM variable = x depth = 2
#pragma HLS STREAM variable = y depth = 2
    io::receive(in_stream, x, n_samples);
    io::compute(x, y, n_samples);
    io::send(y, out_stream, n_samples);
}
