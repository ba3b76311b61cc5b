/* One LSTM step's element-wise work, forward and backward, over a batch of rows.
 *
 * The equations of rnnreport.model.layers (_LSTMThroughTime), one line each, in one pass
 * over a step's (B, 4H) gates where torch runs about ten passes, each through its
 * dispatcher. The matmuls stay with torch; Python calls these two functions once a step.
 *
 * Layout: a gate row g holds the four H-wide blocks i, j, f, o at the offsets oi, oj,
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
