// Processing-element blocks synthesized by `python -m flow calibrate` (yosys synth_xilinx -family xc7)
// to measure what one lane of each scheme costs. Parameters are set per run with `chparam`.

// Fixed-point lane: A-bit data times K-bit weight (mapped to DSP48E1, or to LUTs with -nodsp).
module fixed_mul #(parameter A = 8, parameter K = 4) (
    input signed [A-1:0] a,
    input signed [K-1:0] k,
    output signed [A+K-1:0] p
);
    assign p = a * k;
endmodule

// SP2 lane with run-time weight code [sign | f1 (M1 bits) | f2 (M2 bits)]:
// +-((a >> f1) + (a >> f2)), two barrel shifters and one adder, F = 2^M1 - 1 extra fraction bits.
module sp2_runtime #(parameter A = 8, parameter M1 = 2, parameter M2 = 1) (
    input signed [A-1:0] a,
    input [M1+M2:0] code,
    output signed [A+(1<<M1):0] p
);
    localparam F = (1 << M1) - 1;
    wire [M1-1:0] f1 = code[M1+M2-1:M2];
    wire [M2-1:0] f2 = code[M2-1:0];
    wire signed [A+F-1:0] xs = {a, {F{1'b0}}};
    wire signed [A+F-1:0] t1 = (f1 == 0) ? 0 : (xs >>> f1);
    wire signed [A+F-1:0] t2 = (f2 == 0) ? 0 : (xs >>> f2);
    wire signed [A+F:0] s = t1 + t2;
    assign p = code[M1+M2] ? -s : s;
endmodule

// SP2 lane with constant exponents (Latency strategy, weights folded into the logic): one adder.
module sp2_const #(parameter A = 8, parameter F1 = 1, parameter F2 = 3) (
    input signed [A-1:0] a,
    output signed [A+F2:0] p
);
    wire signed [A+F2-1:0] xs = {a, {F2{1'b0}}};
    assign p = (xs >>> F1) + (xs >>> F2);
endmodule

// Binary lane: XNOR of 64 data bits with 64 weight bits and a popcount.
module xnor_popcount #(parameter N = 64) (
    input [N-1:0] x,
    input [N-1:0] w,
    output reg [$clog2(N):0] count
);
    integer i;
    always @* begin
        count = 0;
        for (i = 0; i < N; i = i + 1)
            count = count + ~(x[i] ^ w[i]);
    end
endmodule

// Binary lane with constant weights (Latency strategy): the XNOR folds into the LUTs, the popcount remains.
module popcount #(parameter N = 64) (
    input [N-1:0] x,
    output reg [$clog2(N):0] count
);
    integer i;
    always @* begin
        count = 0;
        for (i = 0; i < N; i = i + 1)
            count = count + x[i];
    end
endmodule

// One step of an adder tree: W-bit two-input adder.
module adder #(parameter W = 16) (
    input signed [W-1:0] a,
    input signed [W-1:0] b,
    output signed [W:0] s
);
    assign s = a + b;
endmodule

// Accumulator: W-bit register plus adder.
module accumulator #(parameter W = 16) (
    input clk,
    input clear,
    input signed [W-1:0] a,
    output reg signed [W-1:0] acc
);
    always @(posedge clk)
        acc <= clear ? a : acc + a;
endmodule

// Two fixed-point products per DSP48E1 (nnet_msq_dense.h, flow/hls/microarch.py DSPPack): A-bit data
// times two K-bit weights, AD = wa * 2^S + wb in the pre-adder, C = 2^(S-1) the sign correction; the
// high field is P[S+A+K-1:S], the low one P[S-1:0] with its top bit inverted. One product split per cycle
// (the fields are then summed in fabric, like any lane's accumulator).
module packed_mul #(parameter A = 8, parameter K = 4, parameter S = 12) (
    input signed [A-1:0] x,
    input signed [K-1:0] wa,
    input signed [K-1:0] wb,
    output signed [A+K-1:0] pa,
    output signed [S-1:0] pb
);
    wire signed [24:0] ad = ($signed(wa) <<< S) + wb;
    wire signed [47:0] p = ad * x + (48'sd1 <<< (S-1));
    assign pa = p[S+A+K-1:S];
    assign pb = {~p[S-1], p[S-2:0]};
endmodule

// The same with the accumulation inside the DSP: P restarts from the correction constant on `clear`
// and accumulates AD * x (the split of P is wiring).
module packed_mac #(parameter A = 8, parameter K = 4, parameter S = 16) (
    input clk,
    input clear,
    input signed [A-1:0] x,
    input signed [K-1:0] wa,
    input signed [K-1:0] wb,
    output signed [47-S:0] pa,
    output signed [S-1:0] pb
);
    wire signed [24:0] ad = ($signed(wa) <<< S) + wb;
    reg signed [47:0] acc;
    always @(posedge clk)
        acc <= (clear ? (48'sd1 <<< (S-1)) : acc) + ad * x;
    assign pa = acc[47:S];
    assign pb = {~acc[S-1], acc[S-2:0]};
endmodule

// For comparison: the correction as an adder outside the DSP (P >> S plus the low field's sign bit).
module packed_mul_adder #(parameter A = 8, parameter K = 4, parameter S = 12) (
    input signed [A-1:0] x,
    input signed [K-1:0] wa,
    input signed [K-1:0] wb,
    output signed [A+K-1:0] pa,
    output signed [S-1:0] pb
);
    wire signed [24:0] ad = ($signed(wa) <<< S) + wb;
    wire signed [47:0] p = ad * x;
    assign pa = p[S+A+K-1:S] + p[S-1];
    assign pb = p[S-1:0];
endmodule
