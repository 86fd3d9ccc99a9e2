// Verilator harness of the RTL top (flow.rtl): the same C ABI as the HLS AXI top's C-simulation
// bridge (msq_axi_bridge.cpp), so msq_overlay.simlib and SimDevice load either library.
//
// msq_axi_run streams the input beats into s_axis and collects m_axis beats up to TLAST, cycle by
// cycle, with TVALID (input) and TREADY (output) dropped at random when msq_rtl_set_stalls asked for
// it. The format constants come from -D defines written by flow.rtl.sim.
#include <cstdint>
#include <memory>

#include "Vmsq_rtl_top.h"
#include "verilated.h"

#define MSQ_EXPORT __attribute__((visibility("default")))

namespace {

struct Harness {
    std::unique_ptr<VerilatedContext> context;
    std::unique_ptr<Vmsq_rtl_top> top;
    uint64_t cycles = 0;
    uint64_t rng = 1;
    unsigned in_stall = 0;  // percent of cycles with input TVALID low
    unsigned out_stall = 0; // percent of cycles with output TREADY low

    Harness() : context(new VerilatedContext), top(new Vmsq_rtl_top(context.get())) {}

    bool coin(unsigned percent) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return percent && (rng % 100) < percent;
    }

    void tick() {
        top->ap_clk = 1;
        top->eval();
        top->ap_clk = 0;
        top->eval();
        cycles++;
    }

    void reset() {
        top->ap_clk = 0;
        top->ap_rst_n = 0;
        top->ap_start = 0;
        top->s_axis_tvalid = 0;
        top->s_axis_tlast = 0;
        top->m_axis_tready = 0;
        top->eval();
        for (int i = 0; i < 4; i++)
            tick();
        top->ap_rst_n = 1;
        top->eval();
    }
};

Harness &harness() {
    static Harness h;
    return h;
}

} // namespace

extern "C" {

// Stalls for the next runs: percent of cycles with input TVALID / output TREADY low (0: none).
MSQ_EXPORT void msq_rtl_set_stalls(unsigned seed, unsigned in_stall, unsigned out_stall) {
    Harness &h = harness();
    h.rng = seed ? seed : 1;
    h.in_stall = in_stall;
    h.out_stall = out_stall;
}

// Clock cycles of the last run, from ap_start to the output beat with TLAST.
MSQ_EXPORT unsigned long long msq_rtl_cycles() { return harness().cycles; }

// As msq_axi_run of msq_axi_bridge.cpp: the number of output beats up to and including TLAST, or
// -1 TLAST never came, -2 out_words is too small, -3 beats after TLAST, -4 TKEEP/TSTRB not all ones,
// -5 the top left input beats unread, -6 an offered output beat changed or was withdrawn before it was taken.
MSQ_EXPORT int
msq_axi_run(const uint64_t *in_words, unsigned n_in_words, uint64_t *out_words, unsigned max_out, unsigned n_samples) {
    Harness &h = harness();
    Vmsq_rtl_top *top = h.top.get();
    h.reset();
    top->n_samples = n_samples;
    top->ap_start = 1;
    h.tick();
    top->ap_start = 0;
    h.cycles = 0;
    const uint64_t limit = 100000ull + 50ull * (n_in_words + max_out + (uint64_t)n_samples * MSQ_RTL_SAMPLE_CYCLES);
    unsigned next = 0, n = 0;
    const uint64_t keep_all = (MSQ_RTL_OUT_BEAT / 8 >= 64) ? ~0ull : ((1ull << (MSQ_RTL_OUT_BEAT / 8)) - 1);
    bool valid = false;          // input TVALID: once raised it stays until the beat is taken (AXI4-Stream master rule)
    bool held = false;           // the top offered an output beat that was not taken last cycle
    uint64_t held_data = 0;
    bool held_last = false;
    for (uint64_t cycle = 0; cycle < limit; cycle++) {
        if (!valid)
            valid = next < n_in_words && !h.coin(h.in_stall);
        top->s_axis_tvalid = valid;
        top->s_axis_tdata = valid ? in_words[next] : 0;
        top->s_axis_tlast = valid && next + 1 == n_in_words;
        top->m_axis_tready = !h.coin(h.out_stall);
        top->eval();
        const uint64_t data = top->m_axis_tdata;
        const bool last = top->m_axis_tlast;
        // an offered beat stays offered, unchanged, until it is taken (AXI4-Stream slave rule, checked every cycle)
        if (held && (!top->m_axis_tvalid || data != held_data || last != held_last))
            return -6;
        const bool in_fire = valid && top->s_axis_tready;
        const bool out_fire = top->m_axis_tvalid && top->m_axis_tready;
        held = top->m_axis_tvalid && !top->m_axis_tready;
        held_data = data;
        held_last = last;
        if (out_fire && ((uint64_t)top->m_axis_tkeep != keep_all || (uint64_t)top->m_axis_tstrb != keep_all))
            return -4;
        h.tick();
        if (in_fire) {
            next++;
            valid = false;
        }
        if (!out_fire)
            continue;
        if (n >= max_out)
            return -2;
        out_words[n++] = data;
        if (!last)
            continue;
        const uint64_t done = h.cycles;
        top->s_axis_tvalid = 0;
        top->m_axis_tready = 1;
        for (int k = 0; k < 64; k++) { // nothing may follow TLAST
            top->eval();
            if (top->m_axis_tvalid)
                return -3;
            h.tick();
        }
        h.cycles = done;
        return next == n_in_words ? (int)n : -5;
    }
    return -1;
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
