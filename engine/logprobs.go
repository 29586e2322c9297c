package engine

import "math"

// logprobs returns the log-probability of token tok under softmax(logits)
// and, for k > 0, the k most likely tokens with theirs, best first (the
// lower id first among equals). As OpenAI reports them, these are
// probabilities of the model's distribution after the logit bias, before
// temperature and the other sampling filters.
func logprobs(logits []float32, tok, k int) (float32, []TokenLogprob) {
	maxL := float32(math.Inf(-1))
	for _, v := range logits {
		maxL = max(maxL, v)
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v - maxL))
	}
	lse := float64(maxL) + math.Log(sum)
	lp := func(id int) float32 { return float32(float64(logits[id]) - lse) }
	if k <= 0 {
		return lp(tok), nil
	}
	k = min(k, len(logits))
	// Insertion into a short sorted list: about len(logits) comparisons
	// once the list holds good candidates.
	top := make([]TokenLogprob, 0, k)
	for id, v := range logits {
		if len(top) == k && !(v > logits[top[k-1].ID]) {
			continue
		}
		if len(top) < k {
			top = append(top, TokenLogprob{})
		}
		j := len(top) - 1
		for j > 0 && v > logits[top[j-1].ID] {
			top[j] = top[j-1]
			j--
		}
		top[j] = TokenLogprob{ID: id}
	}
	for i := range top {
		top[i].Logprob = lp(top[i].ID)
	}
	return lp(tok), top
}
