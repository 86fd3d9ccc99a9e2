// LQ / binary convolution, channels last: every output pixel encodes its receptive field to
// bit-planes (zero padding marks positions invalid: they drop out of every plane) and runs the
// bit-plane rows of nnet_lq_dense.h on it. Conv1D is the case in_height = filt_height = 1.
#ifndef NNET_LQ_CONV_H_
#define NNET_LQ_CONV_H_

#include "nnet_lq_dense.h"
#include "nnet_msq_conv.h"

namespace nnet {

// Geometry as msq_conv_config; mult_config is an lq_dense_config with n_in = fh * fw * n_chan.
struct lq_conv_config : msq_conv_config {
    typedef lq_dense_config mult_config;
};

template <class data_T, typename CONFIG_T>
void lq_conv_window(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                    ap_uint<CONFIG_T::mult_config::kx> codes[CONFIG_T::mult_config::n_in],
                    bool valid[CONFIG_T::mult_config::n_in], unsigned oh, unsigned ow) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::mult_config mult_config;
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
                const unsigned src = inside ? (ih * int(CONFIG_T::in_width) + iw) * CONFIG_T::n_chan + c : 0;
                codes[w] = lq_input_code<data_T, mult_config>(data[src]);
                valid[w] = inside;
            }
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_compute(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                     res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                     typename CONFIG_T::mult_config::weight_t weights[CONFIG_T::n_filt * CONFIG_T::mult_config::n_in],
                     typename CONFIG_T::mult_config::basis_t basis[CONFIG_T::n_filt * CONFIG_T::mult_config::kw],
                     typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::mult_config mult_config;
PixelRows:
    for (unsigned oh = 0; oh < CONFIG_T::out_height; oh++) {
    PixelCols:
        for (unsigned ow = 0; ow < CONFIG_T::out_width; ow++) {
            ap_uint<mult_config::kx> codes[mult_config::n_in];
            bool valid[mult_config::n_in];
            res_T pixel[CONFIG_T::n_filt];
            #pragma HLS ARRAY_PARTITION variable=codes complete
            #pragma HLS ARRAY_PARTITION variable=valid complete
            #pragma HLS ARRAY_PARTITION variable=pixel complete
            lq_conv_window<data_T, CONFIG_T>(data, codes, valid, oh, ow);
            lq_dense_planes<res_T, mult_config>(codes, valid, pixel, weights, basis, biases);
        PixelOut:
            for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
                #pragma HLS UNROLL
                res[(oh * CONFIG_T::out_width + ow) * CONFIG_T::n_filt + f] = pixel[f];
            }
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_latency(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                     res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                     typename CONFIG_T::mult_config::weight_t weights[CONFIG_T::n_filt * CONFIG_T::mult_config::n_in],
                     typename CONFIG_T::mult_config::basis_t basis[CONFIG_T::n_filt * CONFIG_T::mult_config::kw],
                     typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS function_instantiate variable=weights,basis,biases
    #pragma HLS ARRAY_PARTITION variable=weights complete
    #pragma HLS ARRAY_PARTITION variable=basis complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    lq_conv_compute<data_T, res_T, CONFIG_T>(data, res, weights, basis, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_resource(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                      res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                      typename CONFIG_T::mult_config::weight_t weights[CONFIG_T::n_filt * CONFIG_T::mult_config::n_in],
                      typename CONFIG_T::mult_config::basis_t basis[CONFIG_T::n_filt * CONFIG_T::mult_config::kw],
                      typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS function_instantiate variable=weights,basis,biases
    #pragma HLS ARRAY_RESHAPE variable=weights block factor=CONFIG_T::mult_config::lanes
    #pragma HLS BIND_STORAGE variable=weights type=rom_np impl=bram
    #pragma HLS ARRAY_PARTITION variable=basis complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    lq_conv_compute<data_T, res_T, CONFIG_T>(data, res, weights, basis, biases);
}

// io_stream: one packet of n_chan values per input pixel, one of n_filt values per output pixel.
// The frame is buffered whole (simple and exact; a line buffer would hold filt_height rows).
template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_stream(hls::stream<data_T> &data, hls::stream<res_T> &res,
                    typename CONFIG_T::mult_config::weight_t weights[CONFIG_T::n_filt * CONFIG_T::mult_config::n_in],
                    typename CONFIG_T::mult_config::basis_t basis[CONFIG_T::n_filt * CONFIG_T::mult_config::kw],
                    typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    typedef typename data_T::value_type in_t;
    typedef typename res_T::value_type out_t;
    in_t frame[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan];
    out_t out[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt];
    // one packet per pixel
    msq_read_packets<data_T, CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan>(data, frame);
    lq_conv_compute<in_t, out_t, CONFIG_T>(frame, out, weights, basis, biases);
    msq_write_packets<res_T, CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt>(out, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_latency(hls::stream<data_T> &data, hls::stream<res_T> &res,
                     typename CONFIG_T::mult_config::weight_t weights[CONFIG_T::n_filt * CONFIG_T::mult_config::n_in],
                     typename CONFIG_T::mult_config::basis_t basis[CONFIG_T::n_filt * CONFIG_T::mult_config::kw],
                     typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS ARRAY_PARTITION variable=weights complete
    #pragma HLS ARRAY_PARTITION variable=basis complete
    lq_conv_stream<data_T, res_T, CONFIG_T>(data, res, weights, basis, biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void lq_conv_resource(hls::stream<data_T> &data, hls::stream<res_T> &res,
                      typename CONFIG_T::mult_config::weight_t weights[CONFIG_T::n_filt * CONFIG_T::mult_config::n_in],
                      typename CONFIG_T::mult_config::basis_t basis[CONFIG_T::n_filt * CONFIG_T::mult_config::kw],
                      typename CONFIG_T::mult_config::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS ARRAY_RESHAPE variable=weights block factor=CONFIG_T::mult_config::lanes
    #pragma HLS BIND_STORAGE variable=weights type=rom_np impl=bram
    lq_conv_stream<data_T, res_T, CONFIG_T>(data, res, weights, basis, biases);
}

} // namespace nnet

#endif
