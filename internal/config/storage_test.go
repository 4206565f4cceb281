package config

import (
	"strings"
	"testing"
	"time"
)

// TestStorageTuning: the broker's cache and compaction settings come from
// the file, AFFLUENT_* variables and flags, in that order of precedence,
// and zero means the storage engine's default.
func TestStorageTuning(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		file string
		env  []string
		want Storage
	}{
		{name: "engine defaults", want: Storage{}},
		{name: "flags", args: []string{"--local-cache-dir", "/cache", "--local-cache-size", "10GiB",
			"--memory-cache-size", "512MiB", "--compaction-interval", "5s"},
			want: Storage{LocalCacheDir: "/cache", LocalCacheSize: 10 << 30, MemoryCacheSize: 512 << 20, CompactionInterval: 5 * time.Second}},
		{name: "env", env: []string{"AFFLUENT_LOCAL_CACHE_DIR=/var/cache/affluent", "AFFLUENT_LOCAL_CACHE_SIZE=2000000000",
			"AFFLUENT_MEMORY_CACHE_SIZE=1.5GiB", "AFFLUENT_COMPACTION_INTERVAL=-1s"},
			want: Storage{LocalCacheDir: "/var/cache/affluent", LocalCacheSize: 2_000_000_000, MemoryCacheSize: 3 << 29, CompactionInterval: -time.Second}},
		{name: "file", file: "storage:\n  local_cache_dir: /c\n  local_cache_size: 64MiB\n  memory_cache_size: 1048576\n  compaction_interval: 1m\n",
			want: Storage{LocalCacheDir: "/c", LocalCacheSize: 64 << 20, MemoryCacheSize: 1 << 20, CompactionInterval: time.Minute}},
		{name: "flag beats env beats file",
			file: "storage:\n  local_cache_dir: /file\n  local_cache_size: 1GiB\n  compaction_interval: 1m\n",
			env:  []string{"AFFLUENT_LOCAL_CACHE_SIZE=2GiB", "AFFLUENT_COMPACTION_INTERVAL=2m"},
			args: []string{"--compaction-interval", "3m"},
			want: Storage{LocalCacheDir: "/file", LocalCacheSize: 2 << 30, CompactionInterval: 3 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.args, tc.file, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Storage
			if got.LocalCacheDir != tc.want.LocalCacheDir || got.LocalCacheSize != tc.want.LocalCacheSize ||
				got.MemoryCacheSize != tc.want.MemoryCacheSize || got.CompactionInterval != tc.want.CompactionInterval {
				t.Fatalf("local cache %q %v, memory cache %v, compaction every %v; want %q %v, %v, %v",
					got.LocalCacheDir, got.LocalCacheSize, got.MemoryCacheSize, got.CompactionInterval,
					tc.want.LocalCacheDir, tc.want.LocalCacheSize, tc.want.MemoryCacheSize, tc.want.CompactionInterval)
			}
		})
	}
}

func TestStorageTuningInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		file  string
		env   []string
		wants []string
	}{
		{"size without a dir", []string{"--local-cache-size", "1GiB"}, "", nil, []string{"local cache size 1GiB", "local cache dir"}},
		{"bad sizes, all reported", nil, "", []string{"AFFLUENT_LOCAL_CACHE_SIZE=lots", "AFFLUENT_MEMORY_CACHE_SIZE=-5MiB"},
			[]string{"AFFLUENT_LOCAL_CACHE_SIZE", `"lots"`, "AFFLUENT_MEMORY_CACHE_SIZE", "out of range"}},
		{"bad interval", nil, "", []string{"AFFLUENT_COMPACTION_INTERVAL=often"}, []string{"AFFLUENT_COMPACTION_INTERVAL"}},
		{"bad size in file", nil, "storage:\n  memory_cache_size: big\n", nil, []string{"line 2", `"big"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.file, tc.env)
			if err == nil {
				t.Fatal("want an error, got none")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		out  string // String(); empty: in
	}{
		{"0", 0, ""},
		{"1048576", 1 << 20, "1MiB"},
		{"512MiB", 512 << 20, ""},
		{"10GiB", 10 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"64KiB", 64 << 10, ""},
		{"1.5GiB", 3 << 29, "1536MiB"},
		{"500MB", 500_000_000, ""},
		{"2GB", 2_000_000_000, ""},
		{"100B", 100, "100"},
		{" 8 MiB ", 8 << 20, "8MiB"},
	} {
		got, err := ParseByteSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			continue
		}
		out := tc.out
		if out == "" {
			out = tc.in
		}
		if got.String() != out {
			t.Errorf("%q reads as %d, written %q; want %q", tc.in, got, got.String(), out)
		}
		if again, err := ParseByteSize(got.String()); err != nil || again != got {
			t.Errorf("%q does not read back: %d, %v", got.String(), again, err)
		}
	}
	for _, bad := range []string{"", "lots", "-1", "-5MiB", "1.5.5GiB", "9999999TiB", "NaN", "1e30"} {
		if v, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", bad, v)
		}
	}
}
