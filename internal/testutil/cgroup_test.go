package testutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Hybrid: cgroup v1 controllers under /sys/fs/cgroup, an empty unified
// hierarchy beside them (systemd's hybrid layout).
const hybridMountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

const unifiedMountinfo = `22 1 0:20 / / rw - ext4 /dev/sda1 rw
29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
`

// Older systems mount cpu and cpuacct together, with a space escaped.
const combinedMountinfo = `32 31 0:29 / /sys/fs/cgroup/cpu\040acct rw,relatime shared:9 - cgroup cgroup rw,cpuacct,cpu
`

func TestFindCPUHierarchy(t *testing.T) {
	ctl := func(m map[string]string) func(string) (string, error) {
		return func(dir string) (string, error) {
			if s, ok := m[dir]; ok {
				return s, nil
			}
			return "", fs.ErrNotExist
		}
	}
	for _, tc := range []struct {
		name, mountinfo string
		controllers     map[string]string
		want            cpuHierarchy
		wantErr         string
	}{
		{"hybrid, empty unified", hybridMountinfo, map[string]string{"/sys/fs/cgroup/unified": "\n"},
			cpuHierarchy{dir: "/sys/fs/cgroup/cpu"}, ""},
		{"hybrid, cpu in unified", hybridMountinfo, map[string]string{"/sys/fs/cgroup/unified": "cpuset cpu io\n"},
			cpuHierarchy{dir: "/sys/fs/cgroup/unified", v2: true}, ""},
		{"unified", unifiedMountinfo, map[string]string{"/sys/fs/cgroup": "cpuset cpu io memory pids\n"},
			cpuHierarchy{dir: "/sys/fs/cgroup", v2: true}, ""},
		{"unified without cpu", unifiedMountinfo, map[string]string{"/sys/fs/cgroup": "memory pids\n"},
			cpuHierarchy{}, "cgroup2 at /sys/fs/cgroup has no cpu controller; no cgroup v1 mount with the cpu controller"},
		{"cpuset is not cpu", unifiedMountinfo, map[string]string{"/sys/fs/cgroup": "cpuset\n"},
			cpuHierarchy{}, "has no cpu controller"},
		{"v1 cpu,cpuacct", combinedMountinfo, nil, cpuHierarchy{dir: "/sys/fs/cgroup/cpu acct"}, ""},
		{"none", "22 1 0:20 / / rw - ext4 /dev/sda1 rw\n", nil, cpuHierarchy{}, "no cgroup v1 mount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findCPUHierarchy(strings.NewReader(tc.mountinfo), ctl(tc.controllers))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %+v, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseCPUStat(t *testing.T) {
	v1 := "nr_periods 120\nnr_throttled 7\nthrottled_time 350000000\nnr_bursts 0\nburst_time 0\n"
	if got, want := parseCPUStat(v1, false), (CPUStat{Periods: 120, Throttled: 7, ThrottledTime: 350 * time.Millisecond}); got != want {
		t.Errorf("v1: got %+v, want %+v", got, want)
	}
	v2 := "usage_usec 5000\nuser_usec 4000\nsystem_usec 1000\nnr_periods 30\nnr_throttled 3\nthrottled_usec 25000\n"
	if got, want := parseCPUStat(v2, true), (CPUStat{Periods: 30, Throttled: 3, ThrottledTime: 25 * time.Millisecond}); got != want {
		t.Errorf("v2: got %+v, want %+v", got, want)
	}
}

// TestCPUGroupFiles checks what each hierarchy's group is given, on a
// directory standing in for the hierarchy.
func TestCPUGroupFiles(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v2=%v", v2), func(t *testing.T) {
			dir := t.TempDir()
			g, err := newCPUGroup(cpuHierarchy{dir: dir, v2: v2}, "broker-0", 0.35)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Add(4242); err != nil {
				t.Fatal(err)
			}
			if err := g.Prioritize(8); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"cgroup.procs": "4242"}
			if v2 {
				want["cpu.max"], want["cpu.weight"] = "35000 100000", "800"
			} else {
				want["cpu.cfs_period_us"], want["cpu.cfs_quota_us"], want["cpu.shares"] = "100000", "35000", "8192"
			}
			for file, w := range want {
				raw, err := os.ReadFile(filepath.Join(g.Path, file))
				if err != nil || string(raw) != w {
					t.Errorf("%s: %q, %v; want %q", file, raw, err, w)
				}
			}
			if v2 {
				if raw, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control")); string(raw) != "+cpu" {
					t.Errorf("cgroup.subtree_control of the parent: %q, want +cpu", raw)
				}
			}
			if g.GOMAXPROCS() != 1 {
				t.Errorf("GOMAXPROCS %d for 0.35 cores, want 1", g.GOMAXPROCS())
			}
		})
	}
	if g := (&CPUGroup{Cores: 1.5}); g.GOMAXPROCS() != 2 {
		t.Errorf("GOMAXPROCS %d for 1.5 cores, want 2", g.GOMAXPROCS())
	}
	g, err := newCPUGroup(cpuHierarchy{dir: t.TempDir()}, "unlimited", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(g.Path, "cpu.cfs_quota_us")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a group without quota was given one: %v", err)
	}
	if g.GOMAXPROCS() != 0 {
		t.Errorf("GOMAXPROCS %d without a quota, want 0 (the runtime's choice)", g.GOMAXPROCS())
	}
}

// TestCPUGroupLive makes a real group of this machine, moves a process
// spinning on a core into it and checks that the quota holds it back. It
// fails when it runs as root on a machine with a writable cpu controller;
// it skips, saying why, when it cannot make groups.
func TestCPUGroupLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("cpu groups need root")
	}
	g, err := NewCPUGroup(fmt.Sprintf("affluent-test-%d", os.Getpid()), 0.2)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && (errors.Is(err, fs.ErrPermission) || strings.Contains(err.Error(), "read-only file system")) {
			t.Skipf("the cpu controller is not writable here: %v", err)
		}
		if strings.Contains(err.Error(), "cpu controller") {
			t.Skipf("no cpu controller: %v", err)
		}
		t.Fatalf("as root with a cpu controller: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(g.Path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("group %s still there after Remove: %v", g.Path, err)
		}
	})
	t.Logf("group %s (v2=%v)", g.Path, g.V2())

	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	pids, err := g.Procs()
	if err != nil || len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Fatalf("group holds %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	self, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
	if err != nil || !strings.Contains(string(self), "/"+filepath.Base(g.Path)+"\n") {
		t.Fatalf("/proc/%d/cgroup does not name the group: %q, %v", cmd.Process.Pid, self, err)
	}

	cpu0, at0 := procCPU(t, cmd.Process.Pid), time.Now()
	time.Sleep(1500 * time.Millisecond)
	cores := (procCPU(t, cmd.Process.Pid) - cpu0).Seconds() / time.Since(at0).Seconds()
	st, err := g.Stat()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a spinning process used %.2f cores under a quota of 0.2; %+v", cores, st)
	if cores > 0.3 {
		t.Errorf("a spinning process used %.2f cores under a quota of 0.2", cores)
	}
	if st.Throttled == 0 {
		t.Errorf("the group was never throttled: %+v", st)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// procCPU is the user and system time of pid so far.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	line := string(raw)
	f := strings.Fields(line[strings.LastIndexByte(line, ')')+1:])
	var ticks int64
	for _, i := range []int{11, 12} {
		var n int64
		fmt.Sscan(f[i], &n)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
