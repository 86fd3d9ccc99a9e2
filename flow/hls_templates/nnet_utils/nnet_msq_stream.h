// Packets <-> arrays for the io_stream forms of the MSQ and LQ Dense kernels: a Dense layer needs its
// whole input vector before its reuse loop, so it reads it packet by packet (one a cycle), computes
// on the array and writes its output packet by packet. Convolutions never buffer a frame: they
// stream through a line buffer (nnet_msq_window.h).
#ifndef NNET_MSQ_STREAM_H_
#define NNET_MSQ_STREAM_H_

#include "hls_stream.h"

namespace nnet {

// N values from N / data_T::size packets.
template <class data_T, unsigned N> void msq_read_packets(hls::stream<data_T> &data, typename data_T::value_type out[N]) {
ReadPackets:
    for (unsigned p = 0; p < N / data_T::size; p++) {
        #pragma HLS PIPELINE
        data_T packet = data.read();
        for (unsigned c = 0; c < data_T::size; c++) {
            #pragma HLS UNROLL
            out[p * data_T::size + c] = packet[c];
        }
    }
}

// N values as N / res_T::size packets.
template <class res_T, unsigned N> void msq_write_packets(typename res_T::value_type in[N], hls::stream<res_T> &res) {
WritePackets:
    for (unsigned p = 0; p < N / res_T::size; p++) {
        #pragma HLS PIPELINE
        res_T packet;
        for (unsigned c = 0; c < res_T::size; c++) {
            #pragma HLS UNROLL
            packet[c] = in[p * res_T::size + c];
        }
        res.write(packet);
    }
}

} // namespace nnet

#endif
