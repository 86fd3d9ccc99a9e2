// LQ / binary convolution, channels last. The input streams through a line buffer of input *codes*
// (nnet_msq_window.h: each pixel is encoded to its kx plane bits once, when it enters) one padded pixel
// at a time; each padded pixel runs one pass of the lanes of nnet_lq_dense.h (reuse_factor cycles of
// one flattened loop pipelined at II = 1) on the window, so one lane array serves every pixel and no
// frame is buffered. Zero padding marks window positions invalid (conv_window_push's `valid` flags):
// they drop out of every plane and of the count n, exactly as a 'same' convolution needs (a padded
// position is not code 0). io_parallel layers feed the same scan from their frame array under DATAFLOW.
// Conv1D is the case in_height = filt_height = out_height = 1.
#ifndef NNET_LQ_CONV_H_
#define NNET_LQ_CONV_H_

#include "nnet_lq_dense.h"
#include "nnet_msq_conv.h"
#include "nnet_msq_window.h"

namespace nnet {

// Geometry as msq_conv_config; mult_config is an lq_dense_config with n_in = fh * fw * n_chan.
struct lq_conv_config : msq_conv_config {
    typedef lq_dense_config mult_config;
};

#define LQ_CONV_WEIGHTS                                                                                                  \
    typename CONFIG_T::mult_config::weight_t wc[CONFIG_T::mult_config::code_words * CONFIG_T::mult_config::reuse_factor], \
        typename CONFIG_T::mult_config::basis_t aw[CONFIG_T::mult_config::basis_words *                                  \
                                                   CONFIG_T::mult_config::reuse_factor],                                 \
        typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::mult_config::lanes * CONFIG_T::mult_config::reuse_factor]

// The scan: padded_height * padded_width * reuse_factor iterations at II = 1. Cycle 0 of a pixel reads
// it (inside the input), encodes it and pushes its codes into the window; every cycle the lanes compute
// reuse cycle `cycle` of the window's rows; the last cycle writes the output pixel when the window is on
// the output grid.
template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_scan(hls::stream<data_T> &data, hls::stream<res_T> &res, LQ_CONV_WEIGHTS) {
    #pragma HLS INLINE off
    typedef typename CONFIG_T::mult_config mult_config;
    typedef typename data_T::value_type in_t;
    typedef typename res_T::value_type out_t;
    typedef ap_uint<mult_config::kx> code_t;
    typedef ap_uint<mult_config::seg_inputs> plane_word_t;
    typedef conv_geometry<CONFIG_T> geo;
    const unsigned rf = mult_config::reuse_factor;
    const unsigned positions = CONFIG_T::filt_height * CONFIG_T::filt_width;
    code_t line[geo::line_rows][CONFIG_T::in_width][CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=line complete dim=1
    #pragma HLS ARRAY_RESHAPE variable=line complete dim=3
    bind_line_buffer<code_t, CONFIG_T>(line, line_storage<CONFIG_T::line_storage>());
    code_t window[geo::window_size];
    bool valid[positions];
    in_t pixel[CONFIG_T::n_chan];
    code_t pixel_codes[CONFIG_T::n_chan];
    typename mult_config::accum_t rows[mult_config::lanes * mult_config::reuse_factor];
    #pragma HLS ARRAY_PARTITION variable=window complete
    #pragma HLS ARRAY_PARTITION variable=valid complete
    #pragma HLS ARRAY_PARTITION variable=pixel complete
    #pragma HLS ARRAY_PARTITION variable=pixel_codes complete
    #pragma HLS ARRAY_PARTITION variable=rows complete
WindowReset:
    for (unsigned w = 0; w < positions; w++) {
        #pragma HLS UNROLL
        valid[w] = false;
    }
    conv_scan<CONFIG_T> scan;
    scan.reset();
    unsigned cycle = 0;
ScanPixels:
    for (unsigned t = 0; t < geo::padded_height * geo::padded_width * rf; t++) {
        #pragma HLS PIPELINE II=1
        // a line-buffer word is read again padded_width * reuse_factor >= 4 cycles after its write (conv_geometry)
        #pragma HLS DEPENDENCE variable=line inter false
        if (cycle == 0) {
            conv_read_pixel<data_T, in_t, CONFIG_T>(data, pixel, scan);
        EncodePixel:
            for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
                #pragma HLS UNROLL
                pixel_codes[c] = lq_input_code<in_t, mult_config>(pixel[c]);
            }
            conv_window_push<code_t, CONFIG_T>(line, window, valid, pixel_codes, scan);
        }
        // The window as plane words; a padded position counts nowhere.
        bool valid_in[mult_config::n_in];
        plane_word_t xp[mult_config::kx * mult_config::segments];
        plane_word_t mask[mult_config::segments];
        #pragma HLS ARRAY_PARTITION variable=valid_in complete
        #pragma HLS ARRAY_PARTITION variable=xp complete
        #pragma HLS ARRAY_PARTITION variable=mask complete
        typename mult_config::count_t n = 0;
    WindowPositions:
        for (unsigned w = 0; w < positions; w++) {
            #pragma HLS UNROLL
            n += valid[w];
        WindowChannels:
            for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
                #pragma HLS UNROLL
                valid_in[w * CONFIG_T::n_chan + c] = valid[w];
            }
        }
        n = n * CONFIG_T::n_chan;
        lq_pack_planes<mult_config>(window, valid_in, xp, mask);
        lq_lanes_step<mult_config>(xp, mask, n, cycle, rows, wc, aw, biases);
        if (cycle + 1 == rf) {
            if (scan.emits()) {
                res_T packet;
            PackOut:
                for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
                    #pragma HLS UNROLL
                    packet[f] = lq_scaled<out_t, mult_config>(rows[f]);
                }
                res.write(packet);
            }
            scan.advance();
            cycle = 0;
        } else {
            cycle++;
        }
    }
}

// io_parallel: the frame array feeds the same scan through a pixel stream.
template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_frame(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                   res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt], LQ_CONV_WEIGHTS) {
    #pragma HLS INLINE off
    typedef array<data_T, CONFIG_T::n_chan> in_packet;
    typedef array<res_T, CONFIG_T::n_filt> out_packet;
    hls::stream<in_packet> pixels_in("lq_conv_pixels_in");
    hls::stream<out_packet> pixels_out("lq_conv_pixels_out");
    #pragma HLS STREAM variable=pixels_in depth=2
    #pragma HLS STREAM variable=pixels_out depth=2
    #pragma HLS DATAFLOW
    frame_to_pixels<data_T, in_packet, CONFIG_T::in_height * CONFIG_T::in_width, CONFIG_T::n_chan>(data, pixels_in);
    lq_conv_scan<in_packet, out_packet, CONFIG_T>(pixels_in, pixels_out, wc, aw, biases);
    pixels_to_frame<res_T, out_packet, CONFIG_T::out_height * CONFIG_T::out_width, CONFIG_T::n_filt>(pixels_out, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_latency(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                     res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt], LQ_CONV_WEIGHTS) {
    #pragma HLS function_instantiate variable=wc,aw,biases
    #pragma HLS ARRAY_PARTITION variable=wc complete
    #pragma HLS ARRAY_PARTITION variable=aw complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    lq_conv_frame<data_T, res_T, CONFIG_T>(data, res, wc, aw, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_resource(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                      res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt], LQ_CONV_WEIGHTS) {
    #pragma HLS function_instantiate variable=wc,aw,biases
    #pragma HLS ARRAY_RESHAPE variable=wc block factor=CONFIG_T::mult_config::code_words
    #pragma HLS BIND_STORAGE variable=wc type=rom_1p impl=bram
    #pragma HLS ARRAY_RESHAPE variable=aw block factor=CONFIG_T::mult_config::basis_words
    #pragma HLS BIND_STORAGE variable=aw type=rom_1p impl=lutram
    #pragma HLS ARRAY_RESHAPE variable=biases block factor=CONFIG_T::mult_config::lanes
    #pragma HLS BIND_STORAGE variable=biases type=rom_1p impl=lutram
    lq_conv_frame<data_T, res_T, CONFIG_T>(data, res, wc, aw, biases);
}

// io_stream: one packet of n_chan values per input pixel, one of n_filt values per output pixel.
template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_latency(hls::stream<data_T> &data, hls::stream<res_T> &res, LQ_CONV_WEIGHTS) {
    #pragma HLS ARRAY_PARTITION variable=wc complete
    #pragma HLS ARRAY_PARTITION variable=aw complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    lq_conv_scan<data_T, res_T, CONFIG_T>(data, res, wc, aw, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_resource(hls::stream<data_T> &data, hls::stream<res_T> &res, LQ_CONV_WEIGHTS) {
    #pragma HLS ARRAY_RESHAPE variable=wc block factor=CONFIG_T::mult_config::code_words
    #pragma HLS BIND_STORAGE variable=wc type=rom_1p impl=bram
    #pragma HLS ARRAY_RESHAPE variable=aw block factor=CONFIG_T::mult_config::basis_words
    #pragma HLS BIND_STORAGE variable=aw type=rom_1p impl=lutram
    #pragma HLS ARRAY_RESHAPE variable=biases block factor=CONFIG_T::mult_config::lanes
    #pragma HLS BIND_STORAGE variable=biases type=rom_1p impl=lutram
    lq_conv_scan<data_T, res_T, CONFIG_T>(data, res, wc, aw, biases);
}

#undef LQ_CONV_WEIGHTS

} // namespace nnet

#endif
