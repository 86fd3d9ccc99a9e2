// AXI-stream accelerator top around an hls4ml model (MSQ flow).
//
// Stream format (the driver packs and unpacks the same way: msq_overlay/packing.py):
// - a beat is in_beat / out_beat bits (32 or 64) and carries in_per_beat / out_per_beat values of
//   in_lane / out_lane bits (the type's width rounded up to 8, 16, 32 or 64), little-endian: value k
//   of a beat in bits [k * lane, (k + 1) * lane), its code in the low bits of the lane, zeros above;
// - each sample starts on a new beat, the last beat of a sample is padded with zero lanes;
// - the top reads `n_samples` samples (an AXI-lite register) and writes their outputs; TLAST is set
//   on the last beat of the last sample, so one DMA transfer carries a whole batch; TKEEP and TSTRB
//   are all ones. Input TLAST is not needed: the top reads exactly n_samples * in_beats beats.
//
// Micro-architecture: DATAFLOW over three processes, each looping over the samples:
//   receive (AXI beats -> model input) -> compute (the model) -> send (model output -> AXI beats).
// - io_parallel models (array arguments): receive gathers a sample into an array, compute calls the
//   model on it, send scatters the result, per_beat values a cycle; the channels hold whole samples.
// - io_stream models (hls::stream<nnet::array<T, N>> arguments): receive unpacks beats into the
//   model's input packets (a conv model: one packet of n_chan values per pixel) as they arrive, so
//   the model runs while the sample streams in; send packs the output packets into beats.
//
// The generated msq_axi_config.h derives a struct from axi_config (below) with the sizes, lane and
// beat widths (chosen by msq_overlay.packing.beat_format), the types and the model call.
#ifndef MSQ_AXI_TOP_H_
#define MSQ_AXI_TOP_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"

#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
#define MSQ_HAVE_AP_AXI_SDATA 1
#endif
#endif

namespace msq {

#ifdef MSQ_HAVE_AP_AXI_SDATA
template <int W> using axis_word = ap_axiu<W, 0, 0, 0>;
#else
// The fields of ap_axiu<W, 0, 0, 0> that the top uses (for plain g++ C-simulation).
template <int W> struct axis_word {
    ap_uint<W> data;
    ap_uint<(W + 7) / 8> keep;
    ap_uint<(W + 7) / 8> strb;
    ap_uint<1> last;
};
#endif

// A whole sample (io_parallel channels).
template <class T, unsigned N> struct sample { T data[N]; };

// Default configuration; the generated struct overrides every member and adds the model call:
//   io_parallel: static void model(in_t x[n_in], out_t y[n_out]);
//   io_stream:   static void model(hls::stream<in_packet_t> &x, hls::stream<out_packet_t> &y);
struct axi_config {
    static const bool io_stream = false;
    static const unsigned n_in = 1;
    static const unsigned n_out = 1;
    static const unsigned in_lane = 8;
    static const unsigned out_lane = 8;
    static const unsigned in_beat = 32;
    static const unsigned out_beat = 32;
    static const unsigned in_per_beat = 4;
    static const unsigned out_per_beat = 4;
    typedef ap_fixed<8, 4> in_t;
    typedef ap_fixed<8, 4> out_t;
    // io_stream only: the model's stream packets (nnet::array<in_t, ...>, nnet::array<out_t, ...>)
    typedef sample<in_t, 1> in_packet_t;
    typedef sample<out_t, 1> out_packet_t;
};

// Beats per sample, and the checks of a configuration.
template <class CONFIG_T> struct beats {
    static const unsigned in = (CONFIG_T::n_in + CONFIG_T::in_per_beat - 1) / CONFIG_T::in_per_beat;
    static const unsigned out = (CONFIG_T::n_out + CONFIG_T::out_per_beat - 1) / CONFIG_T::out_per_beat;
    static_assert(CONFIG_T::in_beat % 32 == 0 && CONFIG_T::in_beat <= 64, "input beat: 32 or 64 bits");
    static_assert(CONFIG_T::out_beat % 32 == 0 && CONFIG_T::out_beat <= 64, "output beat: 32 or 64 bits");
    static_assert(CONFIG_T::in_per_beat * CONFIG_T::in_lane <= CONFIG_T::in_beat, "input lanes exceed the beat");
    static_assert(CONFIG_T::out_per_beat * CONFIG_T::out_lane <= CONFIG_T::out_beat, "output lanes exceed the beat");
    static_assert(CONFIG_T::in_t::width <= CONFIG_T::in_lane, "input type wider than its lane");
    static_assert(CONFIG_T::out_t::width <= CONFIG_T::out_lane, "output type wider than its lane");
};

// Lane k of a beat -> a value (its low `width` bits).
template <class T, unsigned LANE, int W> T lane_value(const ap_uint<W> &data, unsigned k) {
#pragma HLS INLINE
    T value;
    value.range(T::width - 1, 0) = data.range(k * LANE + T::width - 1, k * LANE);
    return value;
}

// A value -> lane k of a beat (zeros above its width; the lane must be zero before).
template <class T, unsigned LANE, int W> void set_lane(ap_uint<W> &data, unsigned k, const T &value) {
#pragma HLS INLINE
    data.range(k * LANE + T::width - 1, k * LANE) = value.range(T::width - 1, 0);
}

template <int W> axis_word<W> make_word(const ap_uint<W> &data, bool last) {
#pragma HLS INLINE
    axis_word<W> word;
    word.data = data;
    word.keep = -1;
    word.strb = -1;
    word.last = last ? 1 : 0;
    return word;
}

// The three dataflow processes of each interface style (selected by CONFIG_T::io_stream).
template <class CONFIG_T, bool IO_STREAM = CONFIG_T::io_stream> struct axi_io;

// io_parallel: whole samples between the processes.
template <class CONFIG_T> struct axi_io<CONFIG_T, false> {
    typedef typename CONFIG_T::in_t in_t;
    typedef typename CONFIG_T::out_t out_t;
    typedef sample<in_t, CONFIG_T::n_in> in_item;
    typedef sample<out_t, CONFIG_T::n_out> out_item;

    static void receive(hls::stream<axis_word<CONFIG_T::in_beat>> &in, hls::stream<in_item> &x, unsigned n_samples) {
    ReceiveSamples:
        for (unsigned s = 0; s < n_samples; s++) {
            in_t values[CONFIG_T::n_in];
#pragma HLS ARRAY_PARTITION variable = values complete
        ReceiveBeats:
            for (unsigned b = 0; b < beats<CONFIG_T>::in; b++) {
#pragma HLS PIPELINE II = 1
                axis_word<CONFIG_T::in_beat> word = in.read();
            ReceiveLanes:
                for (unsigned k = 0; k < CONFIG_T::in_per_beat; k++) {
#pragma HLS UNROLL
                    unsigned i = b * CONFIG_T::in_per_beat + k;
                    if (i < CONFIG_T::n_in)
                        values[i] = lane_value<in_t, CONFIG_T::in_lane>(word.data, k);
                }
            }
            in_item item;
        ReceiveCopy:
            for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
#pragma HLS UNROLL
                item.data[i] = values[i];
            }
            x.write(item);
        }
    }

    static void compute(hls::stream<in_item> &x, hls::stream<out_item> &y, unsigned n_samples) {
    ComputeSamples:
        for (unsigned s = 0; s < n_samples; s++) {
            in_item item = x.read();
            out_item result;
            CONFIG_T::model(item.data, result.data);
            y.write(result);
        }
    }

    static void send(hls::stream<out_item> &y, hls::stream<axis_word<CONFIG_T::out_beat>> &out, unsigned n_samples) {
    SendSamples:
        for (unsigned s = 0; s < n_samples; s++) {
            out_item item = y.read();
        SendBeats:
            for (unsigned b = 0; b < beats<CONFIG_T>::out; b++) {
#pragma HLS PIPELINE II = 1
                ap_uint<CONFIG_T::out_beat> data = 0;
            SendLanes:
                for (unsigned k = 0; k < CONFIG_T::out_per_beat; k++) {
#pragma HLS UNROLL
                    unsigned j = b * CONFIG_T::out_per_beat + k;
                    if (j < CONFIG_T::n_out)
                        set_lane<out_t, CONFIG_T::out_lane>(data, k, item.data[j]);
                }
                out.write(make_word(data, s == n_samples - 1 && b == beats<CONFIG_T>::out - 1));
            }
        }
    }
};

// io_stream: the model's own packets between the processes. receive keeps a buffer of at most
// packet - 1 + per_beat values: it reads a beat when the buffer holds less than a packet and
// writes a packet when it holds one (one packet a cycle when packet <= per_beat); send mirrors it.
template <class CONFIG_T> struct axi_io<CONFIG_T, true> {
    typedef typename CONFIG_T::in_t in_t;
    typedef typename CONFIG_T::out_t out_t;
    typedef typename CONFIG_T::in_packet_t in_item;
    typedef typename CONFIG_T::out_packet_t out_item;
    static const unsigned in_size = in_item::size;
    static const unsigned out_size = out_item::size;
    static const unsigned in_packets = CONFIG_T::n_in / in_size;
    static const unsigned out_packets = CONFIG_T::n_out / out_size;
    static const unsigned in_capacity = in_size - 1 + CONFIG_T::in_per_beat;
    static const unsigned out_capacity = out_size - 1 + CONFIG_T::out_per_beat;
    static const unsigned in_steps_max = in_packets + beats<CONFIG_T>::in; // loop trip counts (reports only)
    static const unsigned out_steps_max = out_packets + beats<CONFIG_T>::out;
    static const unsigned out_beats = beats<CONFIG_T>::out;
    static_assert(CONFIG_T::n_in % in_size == 0, "the model's input packets do not divide the input");
    static_assert(CONFIG_T::n_out % out_size == 0, "the model's output packets do not divide the output");

    static void receive(hls::stream<axis_word<CONFIG_T::in_beat>> &in, hls::stream<in_item> &x, unsigned n_samples) {
    UnpackSamples:
        for (unsigned s = 0; s < n_samples; s++) {
            in_t buffer[in_capacity];
#pragma HLS ARRAY_PARTITION variable = buffer complete
            unsigned have = 0;
        UnpackPackets:
            for (unsigned sent = 0; sent < in_packets;) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = in_packets max = in_steps_max
                if (have < in_size) {
                    axis_word<CONFIG_T::in_beat> word = in.read();
                UnpackLanes:
                    for (unsigned k = 0; k < CONFIG_T::in_per_beat; k++) {
#pragma HLS UNROLL
                        buffer[have + k] = lane_value<in_t, CONFIG_T::in_lane>(word.data, k);
                    }
                    have += CONFIG_T::in_per_beat;
                }
                if (have >= in_size) {
                    in_item packet;
                UnpackTake:
                    for (unsigned j = 0; j < in_size; j++) {
#pragma HLS UNROLL
                        packet[j] = buffer[j];
                    }
                UnpackShift:
                    for (unsigned j = 0; j + in_size < in_capacity; j++) {
#pragma HLS UNROLL
                        buffer[j] = buffer[j + in_size];
                    }
                    have -= in_size;
                    x.write(packet);
                    sent++;
                }
            }
        }
    }

    static void compute(hls::stream<in_item> &x, hls::stream<out_item> &y, unsigned n_samples) {
    ComputeSamples:
        for (unsigned s = 0; s < n_samples; s++) {
            CONFIG_T::model(x, y);
        }
    }

    static void send(hls::stream<out_item> &y, hls::stream<axis_word<CONFIG_T::out_beat>> &out, unsigned n_samples) {
    PackSamples:
        for (unsigned s = 0; s < n_samples; s++) {
            out_t buffer[out_capacity];
#pragma HLS ARRAY_PARTITION variable = buffer complete
            unsigned have = 0, taken = 0;
        PackBeats:
            for (unsigned sent = 0; sent < beats<CONFIG_T>::out;) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = out_beats max = out_steps_max
                if (have < CONFIG_T::out_per_beat && taken < out_packets) {
                    out_item packet = y.read();
                PackPut:
                    for (unsigned j = 0; j < out_size; j++) {
#pragma HLS UNROLL
                        buffer[have + j] = packet[j];
                    }
                    have += out_size;
                    taken++;
                }
                if (have >= CONFIG_T::out_per_beat || taken == out_packets) {
                    ap_uint<CONFIG_T::out_beat> data = 0;
                PackLanes:
                    for (unsigned k = 0; k < CONFIG_T::out_per_beat; k++) {
#pragma HLS UNROLL
                        if (k < have)
                            set_lane<out_t, CONFIG_T::out_lane>(data, k, buffer[k]);
                    }
                PackShift:
                    for (unsigned j = 0; j + CONFIG_T::out_per_beat < out_capacity; j++) {
#pragma HLS UNROLL
                        buffer[j] = buffer[j + CONFIG_T::out_per_beat];
                    }
                    have = have > CONFIG_T::out_per_beat ? have - CONFIG_T::out_per_beat : 0;
                    sent++;
                    out.write(make_word(data, s == n_samples - 1 && sent == beats<CONFIG_T>::out));
                }
            }
        }
    }
};

} // namespace msq

#endif
