package kv

import "testing"

func TestHashBlock(t *testing.T) {
	base := HashBlock(BlockHash{}, []int{1, 2, 3, 4}, nil)
	other := HashBlock(BlockHash{}, []int{9}, nil)
	tests := []struct {
		name   string
		parent BlockHash
		tokens []int
		extra  []byte
		same   bool // whether it must equal base
	}{
		{"same input", BlockHash{}, []int{1, 2, 3, 4}, nil, true},
		{"empty extra is no extra", BlockHash{}, []int{1, 2, 3, 4}, []byte{}, true},
		{"other parent", other, []int{1, 2, 3, 4}, nil, false},
		{"other token", BlockHash{}, []int{1, 2, 3, 5}, nil, false},
		{"other order", BlockHash{}, []int{2, 1, 3, 4}, nil, false},
		{"fewer tokens", BlockHash{}, []int{1, 2, 3}, nil, false},
		{"extra key", BlockHash{}, []int{1, 2, 3, 4}, []byte("lora-a"), false},
		{"zero byte extra", BlockHash{}, []int{1, 2, 3, 4}, []byte{0}, false},
		{"token beyond 32 bits", BlockHash{}, []int{1 + 1<<32, 2, 3, 4}, nil, false},
		{"negative token", BlockHash{}, []int{-1, 2, 3, 4}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HashBlock(tt.parent, tt.tokens, tt.extra)
			if (got == base) != tt.same {
				t.Errorf("hash equal to base = %v, want %v", got == base, tt.same)
			}
		})
	}
}

// TestHashBlockFraming checks that the length prefixes keep the boundary
// between the extra key and the tokens unambiguous.
func TestHashBlockFraming(t *testing.T) {
	a := HashBlock(BlockHash{}, []int{1}, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	b := HashBlock(BlockHash{}, []int{1, 1}, nil)
	c := HashBlock(BlockHash{}, nil, []byte{1, 1, 0, 0, 0, 0, 0, 0, 0})
	if a == b || b == c || a == c {
		t.Error("differently framed inputs hash alike")
	}
}

func TestHashBlockReusesBuffer(t *testing.T) {
	buf := make([]byte, 0, 256)
	tokens := []int{5, 6, 7, 8}
	allocs := testing.AllocsPerRun(100, func() {
		_, buf = hashBlock(buf, BlockHash{}, tokens, nil)
	})
	if allocs != 0 {
		t.Errorf("hashBlock allocates %v times per call with a buffer", allocs)
	}
	h, _ := hashBlock(buf, BlockHash{}, tokens, nil)
	if h != HashBlock(BlockHash{}, tokens, nil) {
		t.Error("hashBlock and HashBlock disagree")
	}
}
