package gguf

import (
	"fmt"
	"math"
)

// Has reports whether the metadata has key.
func (f *File) Has(key string) bool { _, ok := f.keys[key]; return ok }

// Value returns the metadata value of key.
func (f *File) Value(key string) (any, bool) {
	i, ok := f.keys[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

func (f *File) get(key string) (any, error) {
	v, ok := f.Value(key)
	if !ok {
		return nil, fmt.Errorf("gguf: metadata %q: %w", key, ErrKeyNotFound)
	}
	return v, nil
}

// getAs returns the value of key if it is a T; want names T for the error.
func getAs[T any](f *File, key, want string) (T, error) {
	var zero T
	v, err := f.get(key)
	if err != nil {
		return zero, err
	}
	x, ok := v.(T)
	if !ok {
		return zero, typeError(key, v, want)
	}
	return x, nil
}

func typeError(key string, v any, want string) error {
	return fmt.Errorf("gguf: metadata %q is %s, want %s", key, describe(v), want)
}

// describe names a value's GGUF type for error messages.
func describe(v any) string {
	switch v.(type) {
	case []any:
		return "an array of arrays"
	}
	return fmt.Sprintf("%T", v)
}

// String returns the string value of key.
func (f *File) String(key string) (string, error) {
	return getAs[string](f, key, "a string")
}

// Int returns the integer value of key, of any integer type that fits int64.
func (f *File) Int(key string) (int64, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	n, ok := asInt(v)
	if !ok {
		return 0, typeError(key, v, "an integer")
	}
	return n, nil
}

// Uint returns the value of key as a non-negative integer.
func (f *File) Uint(key string) (uint64, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	if u, ok := v.(uint64); ok {
		return u, nil
	}
	n, ok := asInt(v)
	if !ok {
		return 0, typeError(key, v, "an unsigned integer")
	}
	if n < 0 {
		return 0, fmt.Errorf("gguf: metadata %q is %d, want a non-negative integer", key, n)
	}
	return uint64(n), nil
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// Float returns the floating-point value of key.
func (f *File) Float(key string) (float64, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, typeError(key, v, "a float")
}

// Bool returns the boolean value of key.
func (f *File) Bool(key string) (bool, error) {
	return getAs[bool](f, key, "a bool")
}

// Strings returns the string-array value of key.
func (f *File) Strings(key string) ([]string, error) {
	return getAs[[]string](f, key, "an array of strings")
}

// Float32s returns the float32-array value of key.
func (f *File) Float32s(key string) ([]float32, error) {
	return getAs[[]float32](f, key, "an array of float32")
}

// Int32s returns the value of key, an array of any integer type, as int32s.
// It fails if a value does not fit.
func (f *File) Int32s(key string) ([]int32, error) {
	v, err := f.get(key)
	if err != nil {
		return nil, err
	}
	if s, ok := v.([]int32); ok {
		return s, nil
	}
	conv := func(n int, at func(int) (int64, bool)) ([]int32, error) {
		out := make([]int32, n)
		for i := range out {
			x, ok := at(i)
			if !ok || x < math.MinInt32 || x > math.MaxInt32 {
				return nil, fmt.Errorf("gguf: metadata %q: element %d does not fit in int32", key, i)
			}
			out[i] = int32(x)
		}
		return out, nil
	}
	switch s := v.(type) {
	case []uint8:
		return conv(len(s), func(i int) (int64, bool) { return int64(s[i]), true })
	case []int8:
		return conv(len(s), func(i int) (int64, bool) { return int64(s[i]), true })
	case []uint16:
		return conv(len(s), func(i int) (int64, bool) { return int64(s[i]), true })
	case []int16:
		return conv(len(s), func(i int) (int64, bool) { return int64(s[i]), true })
	case []uint32:
		return conv(len(s), func(i int) (int64, bool) { return int64(s[i]), true })
	case []int64:
		return conv(len(s), func(i int) (int64, bool) { return s[i], true })
	case []uint64:
		return conv(len(s), func(i int) (int64, bool) { return int64(s[i]), s[i] <= math.MaxInt64 })
	}
	return nil, typeError(key, v, "an array of integers")
}
