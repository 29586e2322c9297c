package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// hparams is a model's config.json. Values keep JSON's types (json.Number
// for numbers), so that integers and floats are told apart.
type hparams map[string]any

// readHparams reads a config.json. The keys of a text_config object, which
// multimodal models nest their language model's settings in, are lifted to
// the top, as llama.cpp does.
func readHparams(path string) (hparams, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	h, err := parseHparams(data)
	if err != nil {
		return nil, fmt.Errorf("convert: %s: %w", path, err)
	}
	return h, nil
}

func parseHparams(data []byte) (hparams, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var h hparams
	if err := dec.Decode(&h); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	if tc, ok := h["text_config"].(map[string]any); ok {
		for k, v := range tc {
			h[k] = v
		}
	}
	return h, nil
}

// find returns the value of the first of keys that is present and not null.
func (h hparams) find(keys ...string) (string, any, bool) {
	for _, k := range keys {
		if v, ok := h[k]; ok && v != nil {
			return k, v, true
		}
	}
	return "", nil, false
}

// integer returns the first of keys present as an integer. It fails if the
// value is not a non-negative integer that fits an int32-sized count.
func (h hparams) integer(keys ...string) (int, bool, error) {
	k, v, ok := h.find(keys...)
	if !ok {
		return 0, false, nil
	}
	n, err := asInt(v)
	if err != nil {
		return 0, false, fmt.Errorf("config.json: %s: %w", k, err)
	}
	return n, true, nil
}

// number returns the first of keys present as a float.
func (h hparams) number(keys ...string) (float64, bool, error) {
	k, v, ok := h.find(keys...)
	if !ok {
		return 0, false, nil
	}
	f, err := asFloat(v)
	if err != nil {
		return 0, false, fmt.Errorf("config.json: %s: %w", k, err)
	}
	return f, true, nil
}

// boolean returns key as a bool.
func (h hparams) boolean(key string) (bool, bool, error) {
	v, ok := h[key]
	if !ok || v == nil {
		return false, false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, false, fmt.Errorf("config.json: %s is %v, not true or false", key, v)
	}
	return b, true, nil
}

func asInt(v any) (int, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	n, err := num.Int64()
	if err != nil {
		// 1e5 or 4096.0 are integers written as floats.
		f, ferr := num.Float64()
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, fmt.Errorf("%s is not an integer", num)
		}
		n = int64(f)
	}
	if n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%d is out of range", n)
	}
	return int(n), nil
}

func asFloat(v any) (float64, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	f, err := num.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%s is not a finite number", num)
	}
	return f, nil
}

// ropeParams returns the RoPE settings: rope_parameters (newer
// transformers) or rope_scaling, with rope_theta and rope_type mirrored in
// as llama.cpp does.
func (h hparams) ropeParams() map[string]any {
	var p map[string]any
	if m, ok := h["rope_parameters"].(map[string]any); ok {
		p = m
	} else if m, ok := h["rope_scaling"].(map[string]any); ok {
		p = m
	}
	out := map[string]any{}
	for k, v := range p {
		out[k] = v
	}
	if _, ok := out["rope_theta"]; !ok {
		if _, v, ok := h.find("rope_theta", "rotary_emb_base"); ok {
			out["rope_theta"] = v
		}
	}
	if _, ok := out["rope_type"]; !ok {
		if v, ok := out["type"]; ok {
			out["rope_type"] = v
		}
	}
	return out
}
