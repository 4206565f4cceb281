package provider

import (
	"slices"
	"testing"
)

func TestSplitID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		n    int
		want []string
	}{
		{"env-1/lkc-2/orders", 3, []string{"env-1", "lkc-2", "orders"}},
		{"env-1/lkc-2", 2, []string{"env-1", "lkc-2"}},
		{"env-1/lkc-2", 3, nil},
		{"env-1//orders", 3, nil},
		{"lkc-2", 2, nil},
		{"", 2, nil},
	} {
		got, err := splitID(tc.id, tc.n, "x")
		if (err != nil) != (tc.want == nil) || !slices.Equal(got, tc.want) {
			t.Errorf("splitID(%q, %d) = %q, %v; want %q", tc.id, tc.n, got, err, tc.want)
		}
	}
}
