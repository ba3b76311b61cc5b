/* One step's element-wise work, forward and backward, over a batch of rows: the LSTM's,
 * and the GRU's resetting before the matmul.
 *
 * The equations of rnnreport.model.fast_forward and fast_backward (LSTMThroughTime,
 * GRUThroughTime), one line each, in one pass over a step's rows where torch runs several,
 * each through its dispatcher. The matmuls stay with torch; Python calls these functions between them.
 *
 * LSTM layout: a gate row g holds the four H-wide blocks i, j, f, o at the offsets oi, oj,
 * of, oo (in floats; the cell's column order); rows of (B, H) tensors are H apart, rows
 * of g 4H apart. The j block arrives doubled (the caller scales its columns by 2, an
 * exact operation), so tanh a = 2 sigma(2a) - 1 reads sigma of what is there.
 *
 * Rounding does not depend on the machine: every operation is an IEEE float operation
 * in the order written (compiled with -ffp-contract=off, no -ffast-math; the fused
 * multiply-adds are explicit fmaf calls, rounded once everywhere) and exp is our own
 * polynomial rather than libm's. So compiling for the machine at hand (-march=native)
 * changes how many lanes run at once, not a bit of a result.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>


/* e^x for x in [-87, 88] (clamped there): x = n ln 2 + r with |r| <= ln(2)/2, e^r by its
 * Taylor polynomial to r^7 (truncation below 2e-9, relative), times 2^n built from bits. */
static inline float exp_clamped(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = fmaf(x, 1.44269504f, shifter) - shifter;
    float r = fmaf(n, -1.42860677e-6f, fmaf(n, -0.693145752f, x)); /* ln 2 in two parts */
    float p = 1.0f / 5040.0f;
    p = fmaf(p, r, 1.0f / 720.0f);
    p = fmaf(p, r, 1.0f / 120.0f);
    p = fmaf(p, r, 1.0f / 24.0f);
    p = fmaf(p, r, 1.0f / 6.0f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float sigmoid(float a) { return 1.0f / (1.0f + exp_clamped(-a)); }

/* Forward: g holds a_t = x_t U + b + h_{t-1} W (j doubled); it leaves holding i, j, f, o.
 *   i = sigma(a_i), j = tanh(a_j), f = sigma(a_f), o = sigma(a_o)
 *   c_t = f c_{t-1} + i j,  h_t = o tanh(c_t)                                          */
void lstm_forward_step(int64_t B, int64_t H, int64_t oi, int64_t oj, int64_t of,
                       int64_t oo, float *restrict g, const float *restrict c_prev,
                       float *restrict c, float *restrict tanh_c, float *restrict h) {
    for (int64_t b = 0; b < B; b++) {
        float *restrict gb = g + b * 4 * H;
        const int64_t row = b * H;
        for (int64_t k = 0; k < H; k++) {
            float i = sigmoid(gb[oi + k]);
            float j = 2.0f * sigmoid(gb[oj + k]) - 1.0f;
            float f = sigmoid(gb[of + k]);
            float o = sigmoid(gb[oo + k]);
            float c_t = f * c_prev[row + k] + i * j;
            float tanh_c_t = 2.0f * sigmoid(2.0f * c_t) - 1.0f;
            gb[oi + k] = i;
            gb[oj + k] = j;
            gb[of + k] = f;
            gb[oo + k] = o;
            c[row + k] = c_t;
            tanh_c[row + k] = tanh_c_t;
            h[row + k] = o * tanh_c_t;
        }
    }
}

/* Backward: with dh = dL/dh_t (from the output and from step t+1) and dc = dL/dc_t from
 * step t+1, write da_t and leave in dc the part of dL/dc_{t-1} that flows through c_t:
 *   dc   <- dc + dh o (1 - tanh^2 c_t)
 *   da_i  = dc j i (1 - i),  da_j = dc i (1 - j^2),  da_f = dc c_{t-1} f (1 - f)
 *   da_o  = dh tanh(c_t) o (1 - o)
 *   dc   <- dc f                                                                        */
void lstm_backward_step(int64_t B, int64_t H, int64_t oi, int64_t oj, int64_t of,
                        int64_t oo, const float *restrict g, const float *restrict c_prev,
                        const float *restrict tanh_c, const float *restrict dh,
                        float *restrict dc, float *restrict da) {
    for (int64_t b = 0; b < B; b++) {
        const float *restrict gb = g + b * 4 * H;
        float *restrict dab = da + b * 4 * H;
        const int64_t row = b * H;
        for (int64_t k = 0; k < H; k++) {
            float i = gb[oi + k], j = gb[oj + k], f = gb[of + k], o = gb[oo + k];
            float tc = tanh_c[row + k], dh_t = dh[row + k];
            float dc_t = dc[row + k] + dh_t * o * (1.0f - tc * tc);
            dab[oi + k] = dc_t * j * i * (1.0f - i);
            dab[oj + k] = dc_t * i * (1.0f - j * j);
            dab[of + k] = dc_t * c_prev[row + k] * f * (1.0f - f);
            dab[oo + k] = dh_t * tc * o * (1.0f - o);
            dc[row + k] = dc_t * f;
        }
    }
}

/* The GRU, resetting before the matmul (the grid's variant), in four calls a step, two of
 * them torch's matmuls. A zr row holds z then r (H each); an a row (B, 3H) holds the
 * blocks z, r and the candidate at oz, or, oh, the candidate's columns doubled.
 *
 * Forward, gates: zr holds a^z, a^r; it leaves holding z = sigma(a^z), r = sigma(a^r),
 * and s = r h_{t-1}, the row the candidate's matmul reads.                              */
void gru_forward_gates(int64_t B, int64_t H, float *restrict zr,
                       const float *restrict h_prev, float *restrict s) {
    for (int64_t b = 0; b < B; b++) {
        float *restrict zrb = zr + b * 2 * H;
        const int64_t row = b * H;
        for (int64_t k = 0; k < H; k++) {
            float z = sigmoid(zrb[k]);
            float r = sigmoid(zrb[H + k]);
            zrb[k] = z;
            zrb[H + k] = r;
            s[row + k] = r * h_prev[row + k];
        }
    }
}

/* Forward, state: h_tilde holds the candidate's pre-activation a = x U_h + b_h + s W_h
 * (doubled); it leaves holding h~ = tanh(a), and h_t = h~ + z (h_{t-1} - h~).           */
void gru_forward_state(int64_t B, int64_t H, float *restrict h_tilde,
                       const float *restrict zr, const float *restrict h_prev,
                       float *restrict h) {
    for (int64_t b = 0; b < B; b++) {
        const float *restrict zb = zr + b * 2 * H;
        const int64_t row = b * H;
        for (int64_t k = 0; k < H; k++) {
            float h_tilde_t = 2.0f * sigmoid(h_tilde[row + k]) - 1.0f;
            h_tilde[row + k] = h_tilde_t;
            h[row + k] = h_tilde_t + zb[k] * (h_prev[row + k] - h_tilde_t);
        }
    }
}

/* Backward, before the candidate's matmul: from dh = dL/dh_t,
 *   da~ = dh (1 - z) (1 - h~^2),  da_z = dh (h_{t-1} - h~) z (1 - z)                    */
void gru_backward_candidate(int64_t B, int64_t H, int64_t oz, int64_t oh,
                            const float *restrict zr, const float *restrict h_tilde,
                            const float *restrict h_prev, const float *restrict dh,
                            float *restrict da) {
    for (int64_t b = 0; b < B; b++) {
        const float *restrict zb = zr + b * 2 * H;
        float *restrict dab = da + b * 3 * H;
        const int64_t row = b * H;
        for (int64_t k = 0; k < H; k++) {
            float z = zb[k], h_tilde_t = h_tilde[row + k], dh_t = dh[row + k];
            dab[oh + k] = dh_t * (1.0f - z) * (1.0f - h_tilde_t * h_tilde_t);
            dab[oz + k] = dh_t * (h_prev[row + k] - h_tilde_t) * z * (1.0f - z);
        }
    }
}

/* Backward, after it: with ds = da~ W_h^T (torch's matmul, between the two calls),
 *   da_r = ds h_{t-1} r (1 - r),  dh_prev = dL/dy_{t-1} + dh z + ds r
 * (the caller adds [da_z, da_r] W_zr^T to dh_prev).                                      */
void gru_backward_reset(int64_t B, int64_t H, int64_t or_, const float *restrict zr,
                        const float *restrict h_prev, const float *restrict ds,
                        const float *restrict dh, const float *restrict dy_prev,
                        float *restrict da, float *restrict dh_prev) {
    for (int64_t b = 0; b < B; b++) {
        const float *restrict zb = zr + b * 2 * H;
        float *restrict dab = da + b * 3 * H;
        const int64_t row = b * H;
        for (int64_t k = 0; k < H; k++) {
            float z = zb[k], r = zb[H + k], ds_t = ds[row + k];
            dab[or_ + k] = ds_t * h_prev[row + k] * r * (1.0f - r);
            dh_prev[row + k] = dy_prev[row + k] + dh[row + k] * z + ds_t * r;
        }
    }
}
