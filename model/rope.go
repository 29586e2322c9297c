package model

import "math"

// ropeTable computes the cos/sin pairs of rotary position embeddings the
// way ggml's CPU rope does, with every scaling llama.cpp applies to the
// supported architectures folded in.
type ropeTable struct {
	dims   int       // leading dimensions of a head that turn (RopeDimensionCount)
	step   float32   // ratio between the angles of consecutive pairs, base^(-2/dims)
	scale  float32   // frequency scale (RopeFreqScale)
	freqs  []float32 // per-pair divisors of the angle (rope_freqs.weight), or nil
	mix    []float32 // per-pair YaRN weight of the unscaled angle, or nil without YaRN
	mscale float32   // multiplies every cos and sin
}

func newRopeTable(c *Config, freqs []float32) ropeTable {
	d := c.RopeDimensionCount
	r := ropeTable{
		dims:   d,
		step:   float32(math.Pow(float64(c.RopeFreqBase), float64(-2/float32(d)))),
		scale:  c.RopeFreqScale,
		freqs:  freqs,
		mscale: c.RopeAttnFactor,
	}
	if c.RopeExtFactor != 0 && d > 0 {
		lo, hi := yarnCorrDims(d, c.RopeOrigContext, c.RopeFreqBase, c.RopeYarnBetaFast, c.RopeYarnBetaSlow)
		r.mix = make([]float32, d/2)
		for j := range r.mix {
			// The ramp falls from 1 at pair lo to 0 at pair hi.
			y := (float32(j) - lo) / max(0.001, hi-lo)
			r.mix[j] = (1 - min(1, max(0, y))) * c.RopeExtFactor
		}
		r.mscale *= 1 + 0.1*logf(1/c.RopeFreqScale)
	}
	return r
}

// yarnCorrDims returns the pairs where YaRN's ramp starts and ends: the
// pairs (rounded out) that turn betaFast and betaSlow times over the
// original context, clamped to the dimensions. Computed in float32 like
// ggml_rope_yarn_corr_dims.
func yarnCorrDims(dims, origCtx int, base, betaFast, betaSlow float32) (lo, hi float32) {
	corr := func(turns float32) float32 {
		return float32(dims) * logf(float32(origCtx)/(turns*2*float32(math.Pi))) / (2 * logf(base))
	}
	lo = float32(math.Floor(float64(corr(betaFast))))
	hi = float32(math.Ceil(float64(corr(betaSlow))))
	return max(0, lo), min(float32(dims-1), hi)
}

// row fills t (dims values) with the cos/sin pairs of position pos. The
// unscaled angle of pair j is pos·base^(-2j/dims), stepped by repeated
// float32 multiplication as ggml's rope cache does, then divided by the
// pair's frequency factor; the angle used is that times the frequency
// scale, or with YaRN a mix of the two.
func (r *ropeTable) row(t []float32, pos int) {
	theta := float32(pos)
	for j := 0; j < r.dims; j += 2 {
		ext := theta
		if r.freqs != nil {
			ext /= r.freqs[j/2]
		}
		a := ext * r.scale
		if r.mix != nil {
			mix := r.mix[j/2]
			a = float32(a*(1-mix)) + float32(ext*mix)
		}
		t[j] = float32(math.Cos(float64(a))) * r.mscale
		t[j+1] = float32(math.Sin(float64(a))) * r.mscale
		theta *= r.step
	}
}

// ropeHeads rotates the first d dimensions of every head of n rows of
// heads*headDim, row i by row i of the table of cos/sin pairs (d values a
// row): adjacent pairs (x[2j], x[2j+1]) for RopeNorm, (x[j], x[j+d/2])
// for RopeNeox, pair j turning by table entry j either way.
func ropeHeads(x, table []float32, n, heads, headDim, d int, typ RopeType) {
	half := d / 2
	for i := range n {
		t := table[i*d : (i+1)*d]
		for h := range heads {
			v := x[(i*heads+h)*headDim:][:d]
			if typ == RopeNeox {
				lo, hi := v[:half], v[half:]
				for j := range lo {
					x0, x1 := lo[j], hi[j]
					cos, sin := t[2*j], t[2*j+1]
					lo[j] = x0*cos - x1*sin
					hi[j] = x0*sin + x1*cos
				}
				continue
			}
			for j := 0; j < d; j += 2 {
				x0, x1 := v[j], v[j+1]
				cos, sin := t[j], t[j+1]
				v[j] = x0*cos - x1*sin
				v[j+1] = x0*sin + x1*cos
			}
		}
	}
}
