// Line buffer, window register and scan counters of the streaming convolutions (MSQ and LQ).
//
// A convolution reads its input one pixel (one packet of n_chan values) at a time, in raster
// order over the *padded* frame of padded_height x padded_width positions; padding positions read
// nothing and push zeros (marked invalid for the LQ kernels, where zero is not a plane code).
//
//   line buffer  (filt_height - 1) rows x in_width columns x n_chan values: the rows above the
//                newest one, one memory per row (a column is read and written once per pixel);
//   window       filt_height x filt_width x n_chan registers in (fh, fw, c) order, shifted left by
//                one column per pixel, the new column coming from the line buffer and the pixel;
//   scan         the padded position and the output position, kept as counters (no division):
//                the window is complete on the output grid when
//                ph >= filt_height - 1, pw >= filt_width - 1 and both stride phases are 0.
//
// Every padded position costs one pass of the kernel's reuse loop (reuse_factor cycles), so a
// layer consumes and produces at the rate of one pixel per reuse_factor cycles and needs no frame
// buffer (flow/hls/microarch.py has the cycle formula).
#ifndef NNET_MSQ_WINDOW_H_
#define NNET_MSQ_WINDOW_H_

#include "hls_stream.h"
#include "nnet_types.h"

namespace nnet {

// The convolution's geometry (members of msq_conv_config) as compile-time constants.
template <typename CONFIG_T> struct conv_geometry {
    static const unsigned fh = CONFIG_T::filt_height;
    static const unsigned fw = CONFIG_T::filt_width;
    static const unsigned n_chan = CONFIG_T::n_chan;
    static const unsigned padded_height = CONFIG_T::in_height + CONFIG_T::pad_top + CONFIG_T::pad_bottom;
    static const unsigned padded_width = CONFIG_T::in_width + CONFIG_T::pad_left + CONFIG_T::pad_right;
    static const unsigned line_rows = fh > 1 ? fh - 1 : 1; // allocated rows (C++ arrays cannot be empty)
    static const unsigned window_size = fh * fw * n_chan;
    static_assert(fh == 1 || padded_width * CONFIG_T::mult_config::reuse_factor >= 4,
                  "line buffer: a word would be read again within 4 cycles of its write (DEPENDENCE inter false)");
};

// Where a line buffer lives (flow/hls/microarch.py chooses by its depth, in_width words): registers
// when at most 8 words deep, distributed RAM (LUTs) up to 64, RAMB18 tiles beyond. BIND_STORAGE's
// impl cannot come from a constant, so each choice is its own overload, inlined into the scan
// that declares the buffer.
enum line_storage_kind { line_in_registers = 0, line_in_lutram = 1, line_in_bram = 2 };
template <int kind> struct line_storage {};

template <class T, typename CONFIG_T>
void bind_line_buffer(T line[conv_geometry<CONFIG_T>::line_rows][CONFIG_T::in_width][CONFIG_T::n_chan],
                      line_storage<line_in_registers>) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_PARTITION variable=line complete dim=2
}

template <class T, typename CONFIG_T>
void bind_line_buffer(T line[conv_geometry<CONFIG_T>::line_rows][CONFIG_T::in_width][CONFIG_T::n_chan],
                      line_storage<line_in_lutram>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable=line type=ram_s2p impl=lutram
}

template <class T, typename CONFIG_T>
void bind_line_buffer(T line[conv_geometry<CONFIG_T>::line_rows][CONFIG_T::in_width][CONFIG_T::n_chan],
                      line_storage<line_in_bram>) {
    #pragma HLS INLINE
    #pragma HLS BIND_STORAGE variable=line type=ram_s2p impl=bram
}

// Position of the scan over the padded frame.
template <typename CONFIG_T> struct conv_scan {
    typedef conv_geometry<CONFIG_T> geo;
    unsigned ph, pw;         // padded position of the pixel being pushed
    unsigned h_phase, w_phase; // stride phases (0: this row / column ends a window on the output grid)
    unsigned oh, ow;         // output position of that window
    unsigned ih, iw;         // input position (valid when inside)

    void reset() {
        #pragma HLS INLINE
        ph = 0;
        pw = 0;
        h_phase = 0;
        w_phase = 0;
        oh = 0;
        ow = 0;
        ih = 0;
        iw = 0;
    }
    bool row_inside() const {
        #pragma HLS INLINE
        return ph >= CONFIG_T::pad_top && ph < CONFIG_T::pad_top + CONFIG_T::in_height;
    }
    bool col_inside() const {
        #pragma HLS INLINE
        return pw >= CONFIG_T::pad_left && pw < CONFIG_T::pad_left + CONFIG_T::in_width;
    }
    // True when the window that the current pixel completes is an output pixel.
    bool emits() const {
        #pragma HLS INLINE
        return ph + 1 >= geo::fh && pw + 1 >= geo::fw && h_phase == 0 && w_phase == 0 && oh < CONFIG_T::out_height &&
               ow < CONFIG_T::out_width;
    }
    // Padded row ph - (fh - 1) + r (window row r) lies inside the input.
    bool window_row_inside(unsigned r) const {
        #pragma HLS INLINE
        const int prow = int(ph) + int(r) - int(geo::fh - 1);
        return prow >= int(CONFIG_T::pad_top) && prow < int(CONFIG_T::pad_top + CONFIG_T::in_height);
    }
    void advance() {
        #pragma HLS INLINE
        const bool col_in = col_inside();
        if (pw + 1 >= geo::fw) {
            if (w_phase == 0) {
                ow++;
            }
            w_phase = (w_phase + 1 == CONFIG_T::stride_width) ? 0 : w_phase + 1;
        }
        if (col_in) {
            iw++;
        }
        if (pw + 1 < geo::padded_width) {
            pw++;
            return;
        }
        // end of a padded row
        if (row_inside()) {
            ih++;
        }
        if (ph + 1 >= geo::fh) {
            if (h_phase == 0) {
                oh++;
            }
            h_phase = (h_phase + 1 == CONFIG_T::stride_height) ? 0 : h_phase + 1;
        }
        ph++;
        pw = 0;
        w_phase = 0;
        ow = 0;
        iw = 0;
    }
};

// Push one padded pixel: `pixel` (n_chan values, zeros outside the input) becomes the newest
// value of the window's last column; the column above it comes from the line buffer, which then
// keeps the newest filt_height - 1 rows of column iw. Outside columns are all zero and leave
// the line buffer alone. `valid` marks which window positions lie inside the input.
template <class T, typename CONFIG_T>
void conv_window_push(T line[conv_geometry<CONFIG_T>::line_rows][CONFIG_T::in_width][CONFIG_T::n_chan],
                      T window[conv_geometry<CONFIG_T>::window_size],
                      bool valid[CONFIG_T::filt_height * CONFIG_T::filt_width], const T pixel[CONFIG_T::n_chan],
                      const conv_scan<CONFIG_T> &scan) {
    #pragma HLS INLINE
    typedef conv_geometry<CONFIG_T> geo;
    const bool col_in = scan.col_inside();
    T column[CONFIG_T::filt_height][CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=column complete dim=0
ColumnRows:
    for (unsigned r = 0; r + 1 < geo::fh; r++) {
        #pragma HLS UNROLL
    ColumnChannels:
        for (unsigned c = 0; c < geo::n_chan; c++) {
            #pragma HLS UNROLL
            column[r][c] = col_in ? line[r][scan.iw][c] : T(0);
        }
    }
NewestRow:
    for (unsigned c = 0; c < geo::n_chan; c++) {
        #pragma HLS UNROLL
        column[geo::fh - 1][c] = col_in ? pixel[c] : T(0);
    }
    if (col_in && geo::fh > 1) {
    LineShift:
        for (unsigned r = 0; r + 1 < geo::fh; r++) {
            #pragma HLS UNROLL
        LineChannels:
            for (unsigned c = 0; c < geo::n_chan; c++) {
                #pragma HLS UNROLL
                line[r][scan.iw][c] = column[r + 1][c];
            }
        }
    }
WindowRows:
    for (unsigned r = 0; r < geo::fh; r++) {
        #pragma HLS UNROLL
        const bool in_row = col_in && scan.window_row_inside(r);
    WindowCols:
        for (unsigned f = 0; f + 1 < geo::fw; f++) {
            #pragma HLS UNROLL
            valid[r * geo::fw + f] = valid[r * geo::fw + f + 1];
        WindowShift:
            for (unsigned c = 0; c < geo::n_chan; c++) {
                #pragma HLS UNROLL
                window[(r * geo::fw + f) * geo::n_chan + c] = window[(r * geo::fw + f + 1) * geo::n_chan + c];
            }
        }
        valid[r * geo::fw + geo::fw - 1] = in_row;
    WindowNew:
        for (unsigned c = 0; c < geo::n_chan; c++) {
            #pragma HLS UNROLL
            window[(r * geo::fw + geo::fw - 1) * geo::n_chan + c] = column[r][c];
        }
    }
}

// Read the next pixel from the stream when the scan is inside the input (zeros otherwise).
template <class data_T, class T, typename CONFIG_T>
void conv_read_pixel(hls::stream<data_T> &data, T pixel[CONFIG_T::n_chan], const conv_scan<CONFIG_T> &scan) {
    #pragma HLS INLINE
    const bool inside = scan.row_inside() && scan.col_inside();
    data_T packet;
    if (inside) {
        packet = data.read();
    }
ReadChannels:
    for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        #pragma HLS UNROLL
        pixel[c] = inside ? T(packet[c]) : T(0);
    }
}

// io_parallel adapters: a frame array to a pixel stream and back, so one scan serves both io types.
template <class T, class packet_T, unsigned n_pixels, unsigned n_chan>
void frame_to_pixels(T frame[n_pixels * n_chan], hls::stream<packet_T> &pixels) {
FramePixels:
    for (unsigned p = 0; p < n_pixels; p++) {
        #pragma HLS PIPELINE II=1
        packet_T packet;
    FrameChannels:
        for (unsigned c = 0; c < n_chan; c++) {
            #pragma HLS UNROLL
            packet[c] = frame[p * n_chan + c];
        }
        pixels.write(packet);
    }
}

template <class T, class packet_T, unsigned n_pixels, unsigned n_chan>
void pixels_to_frame(hls::stream<packet_T> &pixels, T frame[n_pixels * n_chan]) {
PixelsFrame:
    for (unsigned p = 0; p < n_pixels; p++) {
        #pragma HLS PIPELINE II=1
        packet_T packet = pixels.read();
    PixelChannels:
        for (unsigned c = 0; c < n_chan; c++) {
            #pragma HLS UNROLL
            frame[p * n_chan + c] = packet[c];
        }
    }
}

} // namespace nnet

#endif
