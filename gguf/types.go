package gguf

import (
	"errors"
	"fmt"

	"github.com/joule-llm/joule/tensor"
)

// Magic is the first four bytes of every GGUF file ("GGUF").
const Magic = "GGUF"

// DefaultAlignment applies when general.alignment is absent.
const DefaultAlignment = 32

// MaxDims is the most dimensions a tensor may have (ggml's GGML_MAX_DIMS).
const MaxDims = 4

// maxArrayDepth bounds nesting of arrays of arrays, so that a hostile file
// cannot recurse without limit.
const maxArrayDepth = 8

// ValueType is the type tag of a metadata value.
type ValueType uint32

// Metadata value types, numbered as in the GGUF specification.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// size is the encoded size of a fixed-size value, or 0 for strings and arrays.
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// ErrKeyNotFound is wrapped by the metadata getters when a key is absent.
var ErrKeyNotFound = errors.New("key not found")

// KV is one metadata entry. Value holds uint8, int8, uint16, int16, uint32,
// int32, uint64, int64, float32, float64, bool or string; an array is a
// typed slice of those ([]uint8 … []string), and an array of arrays is an
// []any whose elements are arrays.
type KV struct {
	Key   string
	Value any
}

// TensorInfo describes one tensor. Dims are innermost first, as in ggml:
// a matrix of R rows of C columns has Dims [C, R].
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   tensor.Type
	Offset uint64 // from the start of the data section
	Size   uint64 // bytes
}

// Elements returns the number of elements of the tensor.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}
