// Mixed-scheme (MSQ) convolution, channels last: per output filter fixed point (DSP lanes) or SP2
// (LUT shift-add lanes). The input streams through a line buffer (nnet_msq_window.h) one padded
// pixel at a time; each padded pixel runs one pass of the dense lanes of nnet_msq_dense.h
// (reuse_factor cycles, in one flattened loop pipelined at II = 1) on the window, so one DSP array
// and one SP2 array serve all pixels and no frame is buffered. io_parallel layers feed the same
// scan from their frame array. Conv1D is the case in_height = filt_height = out_height = 1.
#ifndef NNET_MSQ_CONV_H_
#define NNET_MSQ_CONV_H_

#include "nnet_msq_dense.h"
#include "nnet_msq_window.h"

namespace nnet {

// Default configuration. The backend derives one struct per layer and overrides every member.
struct msq_conv_config {
    static const unsigned in_height = 1;
    static const unsigned in_width = 1;
    static const unsigned n_chan = 1;
    static const unsigned filt_height = 1;
    static const unsigned filt_width = 1;
    static const unsigned n_filt = 1;
    static const unsigned stride_height = 1;
    static const unsigned stride_width = 1;
    static const unsigned pad_top = 0;
    static const unsigned pad_bottom = 0;
    static const unsigned pad_left = 0;
    static const unsigned pad_right = 0;
    static const unsigned out_height = 1;
    static const unsigned out_width = 1;
    static const int line_storage = 1; // line_in_registers / line_in_lutram / line_in_bram (nnet_msq_window.h)
    // n_in = filt_height * filt_width * n_chan, n_out = n_filt
    typedef msq_dense_config mult_config;
};

#define MSQ_CONV_WEIGHTS                                                                                                 \
    typename CONFIG_T::mult_config::fix_weight_t wf[CONFIG_T::mult_config::fix_lanes_alloc *                             \
                                                    CONFIG_T::mult_config::reuse_factor],                                \
        typename CONFIG_T::mult_config::sp2_weight_t ws[CONFIG_T::mult_config::sp2_lanes_alloc *                         \
                                                        CONFIG_T::mult_config::reuse_factor],                            \
        typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]

// The scan: padded_height * padded_width * reuse_factor iterations at II = 1. Cycle 0 of a pixel
// reads it (inside the input) and pushes it into the window; the lanes accumulate for
// reuse_factor cycles; the last cycle writes the output pixel when the window is on the grid.
template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_scan(hls::stream<data_T> &data, hls::stream<res_T> &res, MSQ_CONV_WEIGHTS) {
    #pragma HLS INLINE off
    typedef typename CONFIG_T::mult_config mult_config;
    typedef typename data_T::value_type in_t;
    typedef conv_geometry<CONFIG_T> geo;
    const unsigned rf = mult_config::reuse_factor;
    in_t line[geo::line_rows][CONFIG_T::in_width][CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=line complete dim=1
    #pragma HLS ARRAY_RESHAPE variable=line complete dim=3
    bind_line_buffer<in_t, CONFIG_T>(line, line_storage<CONFIG_T::line_storage>());
    in_t window[geo::window_size];
    bool valid[CONFIG_T::filt_height * CONFIG_T::filt_width];
    in_t pixel[CONFIG_T::n_chan];
    msq_dsp_p_t pack_acc[mult_config::fix_dsps_alloc]; // P of the packed DSPs
    typename mult_config::fix_accum_t fix_run[mult_config::fix_lanes_alloc];
    typename mult_config::sp2_accum_t sp2_run[mult_config::sp2_lanes_alloc];
    typename mult_config::fix_accum_t fix_part[mult_config::fix_parts_alloc];
    typename mult_config::sp2_accum_t sp2_part[mult_config::sp2_parts_alloc];
    #pragma HLS ARRAY_PARTITION variable=pack_acc complete
    #pragma HLS ARRAY_PARTITION variable=fix_run complete
    #pragma HLS ARRAY_PARTITION variable=sp2_run complete
    #pragma HLS ARRAY_PARTITION variable=window complete
    #pragma HLS ARRAY_PARTITION variable=valid complete
    #pragma HLS ARRAY_PARTITION variable=pixel complete
    #pragma HLS ARRAY_PARTITION variable=fix_part complete
    #pragma HLS ARRAY_PARTITION variable=sp2_part complete
    conv_scan<CONFIG_T> scan;
    scan.reset();
    lane_clock<mult_config> clk;
    clk.reset();
ScanPixels:
    for (unsigned t = 0; t < geo::padded_height * geo::padded_width * rf; t++) {
        #pragma HLS PIPELINE II=1
        // a line-buffer word is read again padded_width * reuse_factor >= 4 cycles after its write (conv_geometry)
        #pragma HLS DEPENDENCE variable=line inter false
        if (clk.cycle == 0) {
            conv_read_pixel<data_T, in_t, CONFIG_T>(data, pixel, scan);
            conv_window_push<in_t, CONFIG_T>(line, window, valid, pixel, scan);
        }
        msq_lanes_step<in_t, mult_config>(window, clk, pack_acc, fix_run, sp2_run, fix_part, sp2_part, wf, ws);
        if (clk.last()) {
            if (scan.emits()) {
                typename res_T::value_type out[CONFIG_T::n_filt];
                #pragma HLS ARRAY_PARTITION variable=out complete
                msq_combine<typename res_T::value_type, mult_config>(fix_part, sp2_part, biases, out);
                res_T packet;
            PackOut:
                for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
                    #pragma HLS UNROLL
                    packet[f] = out[f];
                }
                res.write(packet);
            }
            scan.advance();
            clk.reset();
        } else {
            clk.tick();
        }
    }
}

// io_parallel: the frame array feeds the same scan through a pixel stream.
template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_frame(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                    res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt], MSQ_CONV_WEIGHTS) {
    #pragma HLS INLINE off
    typedef array<data_T, CONFIG_T::n_chan> in_packet;
    typedef array<res_T, CONFIG_T::n_filt> out_packet;
    hls::stream<in_packet> pixels_in("msq_conv_pixels_in");
    hls::stream<out_packet> pixels_out("msq_conv_pixels_out");
    #pragma HLS STREAM variable=pixels_in depth=2
    #pragma HLS STREAM variable=pixels_out depth=2
    #pragma HLS DATAFLOW
    frame_to_pixels<data_T, in_packet, CONFIG_T::in_height * CONFIG_T::in_width, CONFIG_T::n_chan>(data, pixels_in);
    msq_conv_scan<in_packet, out_packet, CONFIG_T>(pixels_in, pixels_out, wf, ws, biases);
    pixels_to_frame<res_T, out_packet, CONFIG_T::out_height * CONFIG_T::out_width, CONFIG_T::n_filt>(pixels_out, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_latency(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                      res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt], MSQ_CONV_WEIGHTS) {
    #pragma HLS function_instantiate variable=wf,ws,biases
    #pragma HLS ARRAY_PARTITION variable=wf complete
    #pragma HLS ARRAY_PARTITION variable=ws complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    msq_conv_frame<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_frame_roms(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                         res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt], MSQ_CONV_WEIGHTS,
                         rom_in_lutram<false>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable=wf type=rom_1p impl=bram
    #pragma HLS BIND_STORAGE variable=ws type=rom_1p impl=bram
    msq_conv_frame<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_frame_roms(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                         res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt], MSQ_CONV_WEIGHTS,
                         rom_in_lutram<true>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable=wf type=rom_1p impl=lutram
    #pragma HLS BIND_STORAGE variable=ws type=rom_1p impl=lutram
    msq_conv_frame<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_resource(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                       res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt], MSQ_CONV_WEIGHTS) {
    #pragma HLS function_instantiate variable=wf,ws,biases
    #pragma HLS ARRAY_RESHAPE variable=wf block factor=CONFIG_T::mult_config::fix_lanes_alloc
    #pragma HLS ARRAY_RESHAPE variable=ws block factor=CONFIG_T::mult_config::sp2_lanes_alloc
    #pragma HLS ARRAY_PARTITION variable=biases complete
    msq_conv_frame_roms<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases,
                                                 rom_in_lutram<CONFIG_T::mult_config::rom_lutram>());
}

// io_stream: one packet of n_chan values per input pixel, one of n_filt values per output pixel.
template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_latency(hls::stream<data_T> &data, hls::stream<res_T> &res, MSQ_CONV_WEIGHTS) {
    #pragma HLS ARRAY_PARTITION variable=wf complete
    #pragma HLS ARRAY_PARTITION variable=ws complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    msq_conv_scan<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_scan_roms(hls::stream<data_T> &data, hls::stream<res_T> &res, MSQ_CONV_WEIGHTS, rom_in_lutram<false>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable=wf type=rom_1p impl=bram
    #pragma HLS BIND_STORAGE variable=ws type=rom_1p impl=bram
    msq_conv_scan<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_scan_roms(hls::stream<data_T> &data, hls::stream<res_T> &res, MSQ_CONV_WEIGHTS, rom_in_lutram<true>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable=wf type=rom_1p impl=lutram
    #pragma HLS BIND_STORAGE variable=ws type=rom_1p impl=lutram
    msq_conv_scan<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_resource(hls::stream<data_T> &data, hls::stream<res_T> &res, MSQ_CONV_WEIGHTS) {
    #pragma HLS ARRAY_RESHAPE variable=wf block factor=CONFIG_T::mult_config::fix_lanes_alloc
    #pragma HLS ARRAY_RESHAPE variable=ws block factor=CONFIG_T::mult_config::sp2_lanes_alloc
    #pragma HLS ARRAY_PARTITION variable=biases complete
    msq_conv_scan_roms<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases, rom_in_lutram<CONFIG_T::mult_config::rom_lutram>());
}

#undef MSQ_CONV_WEIGHTS

} // namespace nnet

#endif
