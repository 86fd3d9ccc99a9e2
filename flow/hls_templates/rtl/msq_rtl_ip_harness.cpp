// Verilator harness of the RTL IP top msq_rtl_ip (flow/rtl/ip.py): the stream top behind the AXI4-Lite
// register map s_axi_control, driven as the PYNQ driver and the AXI DMA drive it.
//
// Every clock cycle (cycle()) the harness serves both streams: it offers the queued input beats on the
// input stream (TVALID held until taken, dropped at random between beats when stalls are asked for) and takes
// output beats (TREADY dropped at random), checking the AXI4-Stream rules; AXI-Lite transactions
// (msq_ip_write / msq_ip_read) run on top of that, cycle by cycle, so the batch streams while the registers
// are read. msq_axi_run has the C ABI of msq_axi_bridge.cpp and runs a batch through the register map:
// read ap_idle, write n_samples, write ap_start, poll the control register until ap_done.
// Format constants, register offsets and bus names come from -D defines written by flow.rtl.ip.
#include <cstdint>
#include <memory>
#include <vector>

#include "Vmsq_rtl_ip.h"
#include "verilated.h"

#define MSQ_EXPORT __attribute__((visibility("default")))
#define MSQ_CAT_(a, b) a##b
#define MSQ_CAT(a, b) MSQ_CAT_(a, b)
#define IN(sig) MSQ_CAT(MSQ_RTL_IN_PORT, _##sig)
#define OUT(sig) MSQ_CAT(MSQ_RTL_OUT_PORT, _##sig)
#define CTL(sig) MSQ_CAT(MSQ_RTL_CTRL_PORT, _##sig)

namespace {

const uint32_t AP_START = 0x1, AP_DONE = 0x2, AP_IDLE = 0x4;
const uint64_t LITE_LIMIT = 1000; // cycles an AXI-Lite handshake may take

uint64_t all_ones(unsigned bits) { return bits >= 64 ? ~0ull : ((1ull << bits) - 1); }

struct Harness {
    std::unique_ptr<VerilatedContext> context;
    std::unique_ptr<Vmsq_rtl_ip> top;
    uint64_t cycles = 0;
    uint64_t rng = 1;
    unsigned in_stall = 0, out_stall = 0;
    // streams
    std::vector<uint64_t> in_words, out_words;
    size_t next = 0;
    bool in_valid = false;
    bool held = false, held_last = false;
    unsigned tlasts = 0;      // output beats with TLAST since the reset
    bool one_batch = false;   // msq_axi_run: no beat may follow TLAST
    uint64_t held_data = 0;
    int error = 0; // a RUN_ERRORS code once a stream rule is broken
    // the AXI-Lite outputs as they were before the last clock edge
    bool awready = false, wready = false, bvalid = false, arready = false, rvalid = false;
    uint32_t bresp = 0, rresp = 0, rdata = 0;

    Harness() : context(new VerilatedContext), top(new Vmsq_rtl_ip(context.get())) {}

    bool coin(unsigned percent) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return percent && (rng % 100) < percent;
    }

    void lite_idle() {
        top->CTL(AWVALID) = 0;
        top->CTL(WVALID) = 0;
        top->CTL(BREADY) = 0;
        top->CTL(ARVALID) = 0;
        top->CTL(RREADY) = 0;
    }

    // One clock cycle: drive the streams, evaluate, sample every handshake, rising and falling edge.
    void cycle() {
        if (!in_valid)
            in_valid = next < in_words.size() && !coin(in_stall);
        top->IN(TVALID) = in_valid;
        top->IN(TDATA) = in_valid ? in_words[next] : 0;
        top->IN(TLAST) = in_valid && next + 1 == in_words.size();
        top->IN(TKEEP) = all_ones(MSQ_RTL_IN_BEAT / 8);
        top->IN(TSTRB) = all_ones(MSQ_RTL_IN_BEAT / 8);
        top->OUT(TREADY) = !coin(out_stall);
        top->eval();
        const uint64_t data = top->OUT(TDATA);
        const bool last = top->OUT(TLAST);
        if (held && (!top->OUT(TVALID) || data != held_data || last != held_last) && !error)
            error = -6; // an offered beat changed or was withdrawn before it was taken
        const bool in_fire = in_valid && top->IN(TREADY);
        const bool out_fire = top->OUT(TVALID) && top->OUT(TREADY);
        held = top->OUT(TVALID) && !top->OUT(TREADY);
        held_data = data;
        held_last = last;
        awready = top->CTL(AWREADY);
        wready = top->CTL(WREADY);
        bvalid = top->CTL(BVALID);
        bresp = top->CTL(BRESP);
        arready = top->CTL(ARREADY);
        rvalid = top->CTL(RVALID);
        rresp = top->CTL(RRESP);
        rdata = top->CTL(RDATA);
        if (out_fire) {
            const uint64_t keep = all_ones(MSQ_RTL_OUT_BEAT / 8);
            if (((uint64_t)top->OUT(TKEEP) != keep || (uint64_t)top->OUT(TSTRB) != keep) && !error)
                error = -4;
            if (one_batch && tlasts && !error)
                error = -3; // a beat after TLAST
            out_words.push_back(data);
            tlasts += last;
        }
        top->ap_clk = 1;
        top->eval();
        top->ap_clk = 0;
        top->eval();
        cycles++;
        if (in_fire) {
            next++;
            in_valid = false;
        }
    }

    void reset() {
        in_words.clear();
        out_words.clear();
        next = 0;
        in_valid = held = held_last = one_batch = false;
        tlasts = 0;
        error = 0;
        top->ap_clk = 0;
        top->ap_rst_n = 0;
        lite_idle();
        top->IN(TVALID) = 0;
        top->OUT(TREADY) = 0;
        top->eval();
        for (int i = 0; i < 4; i++) {
            top->ap_clk = 1;
            top->eval();
            top->ap_clk = 0;
            top->eval();
        }
        top->ap_rst_n = 1;
        top->eval();
        cycles = 0;
    }

    // AXI-Lite write: AWVALID from cycle aw_delay, WVALID from cycle w_delay (each held until taken, as the
    // protocol requires), BREADY once both are taken. BRESP, or -1 (AW/W never taken), -2 (no BVALID).
    int write(uint32_t addr, uint32_t data, uint32_t strb, unsigned aw_delay, unsigned w_delay) {
        top->CTL(AWADDR) = addr;
        top->CTL(WDATA) = data;
        top->CTL(WSTRB) = strb;
        bool aw = false, w = false;
        for (uint64_t k = 0; k < LITE_LIMIT; k++) {
            top->CTL(AWVALID) = !aw && k >= aw_delay;
            top->CTL(WVALID) = !w && k >= w_delay;
            top->CTL(BREADY) = aw && w;
            const bool awv = top->CTL(AWVALID), wv = top->CTL(WVALID), br = top->CTL(BREADY);
            cycle();
            aw = aw || (awv && awready);
            w = w || (wv && wready);
            if (br && bvalid) {
                lite_idle();
                return (int)bresp;
            }
        }
        lite_idle();
        return aw && w ? -2 : -1;
    }

    // AXI-Lite read: RRESP (data in *data), or -1 (AR never taken), -2 (no RVALID).
    int read(uint32_t addr, uint32_t *data) {
        top->CTL(ARADDR) = addr;
        top->CTL(RREADY) = 1;
        bool ar = false;
        for (uint64_t k = 0; k < LITE_LIMIT; k++) {
            top->CTL(ARVALID) = !ar;
            const bool arv = top->CTL(ARVALID);
            cycle();
            ar = ar || (arv && arready);
            if (ar && !arv && rvalid) { // the R beat of this read (the cycle after AR was taken, or later)
                *data = rdata;
                lite_idle();
                return (int)rresp;
            }
        }
        lite_idle();
        return ar ? -2 : -1;
    }
};

Harness &harness() {
    static Harness h;
    return h;
}

} // namespace

extern "C" {

MSQ_EXPORT void msq_rtl_set_stalls(unsigned seed, unsigned in_stall, unsigned out_stall) {
    Harness &h = harness();
    h.rng = seed ? seed : 1;
    h.in_stall = in_stall;
    h.out_stall = out_stall;
}

// Clock cycles since the last reset (msq_axi_run: from the ap_start write to the read that saw ap_done).
MSQ_EXPORT unsigned long long msq_rtl_cycles() { return harness().cycles; }

MSQ_EXPORT void msq_ip_reset() { harness().reset(); }
MSQ_EXPORT int msq_ip_write(uint32_t addr, uint32_t data, uint32_t strb, uint32_t aw_delay, uint32_t w_delay) {
    return harness().write(addr, data, strb, aw_delay, w_delay);
}
MSQ_EXPORT int msq_ip_read(uint32_t addr, uint32_t *data) { return harness().read(addr, data); }
MSQ_EXPORT void msq_ip_tick(uint32_t n) {
    for (uint32_t k = 0; k < n; k++)
        harness().cycle();
}
MSQ_EXPORT void msq_ip_load(const uint64_t *words, uint32_t n) {
    Harness &h = harness();
    h.in_words.insert(h.in_words.end(), words, words + n);
}
MSQ_EXPORT int msq_ip_outputs(uint64_t *out, uint32_t max_out) {
    Harness &h = harness();
    uint32_t n = 0;
    for (; n < h.out_words.size() && n < max_out; n++)
        out[n] = h.out_words[n];
    return (int)n;
}
// 0 the interrupt pin, 1 output beats with TLAST, 2 input beats taken, 3 the stream error code (0: none).
MSQ_EXPORT int msq_ip_probe(int what) {
    Harness &h = harness();
    h.top->eval();
    switch (what) {
    case 0: return h.top->__SYM__interrupt; // Verilator renames the C++ word: the pin `interrupt`
    case 1: return (int)h.tlasts;
    case 2: return (int)h.next;
    case 3: return h.error;
    default: return -1;
    }
}

// As msq_axi_run of msq_axi_bridge.cpp, through the register map: the number of output beats up to and
// including TLAST, or -1 TLAST never came, -2 out_words is too small, -3 beats after TLAST, -4 TKEEP/TSTRB
// not all ones, -5 input beats left unread, -6 an offered output beat changed or was withdrawn,
// -7 the control register did not read ap_idle before ap_start, -8 ap_done was never read (or an AXI-Lite
// transaction went unanswered).
MSQ_EXPORT int
msq_axi_run(const uint64_t *in_words, unsigned n_in_words, uint64_t *out_words, unsigned max_out, unsigned n_samples) {
    Harness &h = harness();
    h.reset();
    h.in_words.assign(in_words, in_words + n_in_words);
    h.one_batch = true;
    uint32_t ctrl = 0;
    if (h.read(MSQ_RTL_ADDR_CTRL, &ctrl) != 0 || !(ctrl & AP_IDLE))
        return -7;
    if (h.write(MSQ_RTL_ADDR_N_SAMPLES, n_samples, 0xF, 0, 0) != 0)
        return -8;
    h.cycles = 0;
    if (h.write(MSQ_RTL_ADDR_CTRL, AP_START, 0xF, 0, 0) != 0)
        return -8;
    const uint64_t limit = 100000ull + 50ull * (n_in_words + max_out + (uint64_t)n_samples * MSQ_RTL_SAMPLE_CYCLES);
    bool done = false;
    while (h.cycles < limit && !h.error) {
        if (h.read(MSQ_RTL_ADDR_CTRL, &ctrl) != 0)
            return -8;
        if (ctrl & AP_DONE) {
            done = true;
            break;
        }
    }
    const uint64_t cycles = h.cycles;
    for (int k = 0; k < 64 && !h.error; k++) // nothing may follow TLAST
        h.cycle();
    h.cycles = cycles;
    if (h.error)
        return h.error;
    if (!done)
        return h.tlasts ? -8 : -1;
    if (n_samples && !h.tlasts)
        return -1;
    if (h.out_words.size() > max_out)
        return -2;
    for (size_t k = 0; k < h.out_words.size(); k++)
        out_words[k] = h.out_words[k];
    return h.next == n_in_words ? (int)h.out_words.size() : -5;
}

// The stream format compiled in (checked against the overlay manifest).
MSQ_EXPORT unsigned msq_axi_n_in() { return MSQ_RTL_N_IN; }
MSQ_EXPORT unsigned msq_axi_n_out() { return MSQ_RTL_N_OUT; }
MSQ_EXPORT unsigned msq_axi_in_lane() { return MSQ_RTL_IN_LANE; }
MSQ_EXPORT unsigned msq_axi_out_lane() { return MSQ_RTL_OUT_LANE; }
MSQ_EXPORT unsigned msq_axi_in_beat() { return MSQ_RTL_IN_BEAT; }
MSQ_EXPORT unsigned msq_axi_out_beat() { return MSQ_RTL_OUT_BEAT; }
MSQ_EXPORT unsigned msq_axi_in_per_beat() { return MSQ_RTL_IN_BEAT / MSQ_RTL_IN_LANE; }
MSQ_EXPORT unsigned msq_axi_out_per_beat() { return MSQ_RTL_OUT_BEAT / MSQ_RTL_OUT_LANE; }
MSQ_EXPORT unsigned msq_axi_in_beats() { return (MSQ_RTL_N_IN + msq_axi_in_per_beat() - 1) / msq_axi_in_per_beat(); }
MSQ_EXPORT unsigned msq_axi_out_beats() { return (MSQ_RTL_N_OUT + msq_axi_out_per_beat() - 1) / msq_axi_out_per_beat(); }
MSQ_EXPORT unsigned msq_axi_io_stream() { return 0; }
}
