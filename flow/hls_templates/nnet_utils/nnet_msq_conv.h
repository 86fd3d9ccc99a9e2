// Mixed-scheme (MSQ) convolution, channels last: per output filter fixed point (DSP lanes) or SP2
// (LUT shift-add lanes). Every output pixel gathers its receptive field (zero padding) into a
// window of filt_height * filt_width * n_chan values in (fh, fw, c) order and runs the dense
// lanes of nnet_msq_dense.h on it, so one DSP array and one SP2 array serve all pixels.
// Conv1D is the case in_height = filt_height = out_height = 1.
#ifndef NNET_MSQ_CONV_H_
#define NNET_MSQ_CONV_H_

#include "nnet_msq_dense.h"

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
    static const unsigned pad_left = 0;
    static const unsigned out_height = 1;
    static const unsigned out_width = 1;
    // n_in = filt_height * filt_width * n_chan, n_out = n_filt
    typedef msq_dense_config mult_config;
};

// The receptive field of output pixel (oh, ow), zero outside the input.
template <class data_T, typename CONFIG_T>
void msq_conv_window(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                     data_T window[CONFIG_T::filt_height * CONFIG_T::filt_width * CONFIG_T::n_chan], unsigned oh,
                     unsigned ow) {
    #pragma HLS INLINE
WindowRows:
    for (unsigned fh = 0; fh < CONFIG_T::filt_height; fh++) {
    WindowCols:
        for (unsigned fw = 0; fw < CONFIG_T::filt_width; fw++) {
            const int ih = int(oh * CONFIG_T::stride_height + fh) - int(CONFIG_T::pad_top);
            const int iw = int(ow * CONFIG_T::stride_width + fw) - int(CONFIG_T::pad_left);
            const bool inside = ih >= 0 && ih < int(CONFIG_T::in_height) && iw >= 0 && iw < int(CONFIG_T::in_width);
        WindowChannels:
            for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
                const unsigned w = (fh * CONFIG_T::filt_width + fw) * CONFIG_T::n_chan + c;
                window[w] = inside ? data[(ih * int(CONFIG_T::in_width) + iw) * CONFIG_T::n_chan + c] : data_T(0);
            }
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_compute(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                      res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                      typename CONFIG_T::mult_config::fix_weight_t wf[CONFIG_T::mult_config::n_fix_alloc *
                                                                      CONFIG_T::mult_config::n_in],
                      typename CONFIG_T::mult_config::sp2_weight_t ws[CONFIG_T::mult_config::n_sp2_alloc *
                                                                      CONFIG_T::mult_config::n_in],
                      typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::mult_config mult_config;
PixelRows:
    for (unsigned oh = 0; oh < CONFIG_T::out_height; oh++) {
    PixelCols:
        for (unsigned ow = 0; ow < CONFIG_T::out_width; ow++) {
            data_T window[mult_config::n_in];
            res_T pixel[CONFIG_T::n_filt];
            #pragma HLS ARRAY_PARTITION variable=window complete
            #pragma HLS ARRAY_PARTITION variable=pixel complete
            msq_conv_window<data_T, CONFIG_T>(data, window, oh, ow);
            msq_dense_compute<data_T, res_T, mult_config>(window, pixel, wf, ws, biases);
        PixelOut:
            for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
                #pragma HLS UNROLL
                res[(oh * CONFIG_T::out_width + ow) * CONFIG_T::n_filt + f] = pixel[f];
            }
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_latency(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                      res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                      typename CONFIG_T::mult_config::fix_weight_t wf[CONFIG_T::mult_config::n_fix_alloc *
                                                                      CONFIG_T::mult_config::n_in],
                      typename CONFIG_T::mult_config::sp2_weight_t ws[CONFIG_T::mult_config::n_sp2_alloc *
                                                                      CONFIG_T::mult_config::n_in],
                      typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS function_instantiate variable=wf,ws,biases
    #pragma HLS ARRAY_PARTITION variable=wf complete
    #pragma HLS ARRAY_PARTITION variable=ws complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    msq_conv_compute<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_resource(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                       res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                       typename CONFIG_T::mult_config::fix_weight_t wf[CONFIG_T::mult_config::n_fix_alloc *
                                                                       CONFIG_T::mult_config::n_in],
                       typename CONFIG_T::mult_config::sp2_weight_t ws[CONFIG_T::mult_config::n_sp2_alloc *
                                                                       CONFIG_T::mult_config::n_in],
                       typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS function_instantiate variable=wf,ws,biases
    #pragma HLS ARRAY_RESHAPE variable=wf block factor=CONFIG_T::mult_config::fix_lanes
    #pragma HLS ARRAY_RESHAPE variable=ws block factor=CONFIG_T::mult_config::sp2_lanes
    #pragma HLS BIND_STORAGE variable=wf type=rom_np impl=bram
    #pragma HLS BIND_STORAGE variable=ws type=rom_np impl=bram
    #pragma HLS ARRAY_PARTITION variable=biases complete
    msq_conv_compute<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

// io_stream: one packet of n_chan values per input pixel, one of n_filt values per output pixel.
// The frame is buffered whole (simple and exact; a line buffer would hold filt_height rows).
template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_stream(hls::stream<data_T> &data, hls::stream<res_T> &res,
                     typename CONFIG_T::mult_config::fix_weight_t wf[CONFIG_T::mult_config::n_fix_alloc *
                                                                     CONFIG_T::mult_config::n_in],
                     typename CONFIG_T::mult_config::sp2_weight_t ws[CONFIG_T::mult_config::n_sp2_alloc *
                                                                     CONFIG_T::mult_config::n_in],
                     typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    typedef typename data_T::value_type in_t;
    typedef typename res_T::value_type out_t;
    in_t frame[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan];
    out_t out[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt];
    // one packet per pixel
    msq_read_packets<data_T, CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan>(data, frame);
    msq_conv_compute<in_t, out_t, CONFIG_T>(frame, out, wf, ws, biases);
    msq_write_packets<res_T, CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt>(out, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_latency(hls::stream<data_T> &data, hls::stream<res_T> &res,
                      typename CONFIG_T::mult_config::fix_weight_t wf[CONFIG_T::mult_config::n_fix_alloc *
                                                                      CONFIG_T::mult_config::n_in],
                      typename CONFIG_T::mult_config::sp2_weight_t ws[CONFIG_T::mult_config::n_sp2_alloc *
                                                                      CONFIG_T::mult_config::n_in],
                      typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS ARRAY_PARTITION variable=wf complete
    #pragma HLS ARRAY_PARTITION variable=ws complete
    msq_conv_stream<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void msq_conv_resource(hls::stream<data_T> &data, hls::stream<res_T> &res,
                       typename CONFIG_T::mult_config::fix_weight_t wf[CONFIG_T::mult_config::n_fix_alloc *
                                                                       CONFIG_T::mult_config::n_in],
                       typename CONFIG_T::mult_config::sp2_weight_t ws[CONFIG_T::mult_config::n_sp2_alloc *
                                                                       CONFIG_T::mult_config::n_in],
                       typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS ARRAY_RESHAPE variable=wf block factor=CONFIG_T::mult_config::fix_lanes
    #pragma HLS ARRAY_RESHAPE variable=ws block factor=CONFIG_T::mult_config::sp2_lanes
    #pragma HLS BIND_STORAGE variable=wf type=rom_np impl=bram
    #pragma HLS BIND_STORAGE variable=ws type=rom_np impl=bram
    msq_conv_stream<data_T, res_T, CONFIG_T>(data, res, wf, ws, biases);
}

} // namespace nnet

#endif
