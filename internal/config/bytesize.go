package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ByteSize is a size in bytes, given as a number of bytes or with a unit:
// 512MiB, 10GiB, 64KiB (powers of 1024) or 500MB, 2GB (powers of 1000).
// It is a flag value (pflag.Value) and a YAML scalar.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	size   int64
}{
	// Longest suffixes first, so that "MiB" is not read as "B".
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3},
	{"B", 1},
}

// ParseByteSize reads a size: digits with an optional fraction and unit.
func ParseByteSize(s string) (ByteSize, error) {
	text := strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(text, u.suffix); ok {
			text, unit = strings.TrimSpace(n), u.size
			break
		}
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/unit {
			return 0, fmt.Errorf("size %q: out of range", s)
		}
		return ByteSize(n * unit), nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("size %q: want bytes, or a number with a unit such as 512MiB or 10GiB", s)
	}
	v := f * float64(unit)
	if v < 0 || v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q: out of range", s)
	}
	return ByteSize(v), nil
}

// String writes the size shortest, in a unit that holds it whole (binary
// on a tie): 10GiB, 2GB, 1536MiB, 100.
func (b ByteSize) String() string {
	plain, best := strconv.FormatInt(int64(b), 10), ""
	for _, u := range byteUnits {
		if b != 0 && u.size > 1 && int64(b)%u.size == 0 {
			if s := strconv.FormatInt(int64(b)/u.size, 10) + u.suffix; best == "" || len(s) < len(best) {
				best = s
			}
		}
	}
	if best != "" && len(best) <= len(plain) {
		return best
	}
	return plain
}

// Set implements pflag.Value.
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Type implements pflag.Value.
func (b *ByteSize) Type() string { return "size" }

// UnmarshalYAML reads a number of bytes or a size with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a size such as 512MiB", n.Line)
	}
	if err := b.Set(n.Value); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// Int64 is the size in bytes.
func (b ByteSize) Int64() int64 { return int64(b) }
