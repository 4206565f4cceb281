package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPUGroup is a control group with a CPU quota: the processes moved into
// it share that many cores' worth of CPU time, as if they ran on a machine
// of their own that size. A quota is a ceiling only; Prioritize makes it
// more nearly a guarantee on a machine other processes keep busy. It is cgroup v2's cpu.max when the unified
// hierarchy has the cpu controller, else cgroup v1's cpu controller
// (cpu.cfs_quota_us). Creating one takes root (or a delegated hierarchy).
type CPUGroup struct {
	// Path is the group's directory; Cores its quota.
	Path  string
	Cores float64
	v2    bool
	// parent is where Remove moves processes still in the group.
	parent string
}

// cgroupPeriod is the quota period the groups use (the kernel's default).
const cgroupPeriod = 100 * time.Millisecond

// cpuHierarchy is where CPU groups can be made: a directory of the cpu
// controller and whether it is cgroup v2.
type cpuHierarchy struct {
	dir string
	v2  bool
}

// findCPUHierarchy reads the mount table (the format of
// /proc/self/mountinfo) and the controllers of a unified hierarchy, and
// chooses where CPU groups go: a cgroup2 mount whose cgroup.controllers
// names cpu, else a cgroup v1 mount with the cpu controller.
// controllers reads a cgroup2 mount's cgroup.controllers.
func findCPUHierarchy(mountinfo io.Reader, controllers func(dir string) (string, error)) (cpuHierarchy, error) {
	var v1 string
	var why []string
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional…] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		mountpoint := unescapeMount(f[4])
		switch g[0] {
		case "cgroup2":
			ctl, err := controllers(mountpoint)
			if err != nil {
				why = append(why, fmt.Sprintf("cgroup2 at %s: %v", mountpoint, err))
				continue
			}
			if hasWord(ctl, "cpu") {
				return cpuHierarchy{dir: mountpoint, v2: true}, nil
			}
			why = append(why, fmt.Sprintf("cgroup2 at %s has no cpu controller", mountpoint))
		case "cgroup":
			if v1 == "" && hasWord(strings.ReplaceAll(g[2], ",", " "), "cpu") {
				v1 = mountpoint
			}
		}
	}
	if err := sc.Err(); err != nil {
		return cpuHierarchy{}, err
	}
	if v1 != "" {
		return cpuHierarchy{dir: v1}, nil
	}
	why = append(why, "no cgroup v1 mount with the cpu controller")
	return cpuHierarchy{}, errors.New(strings.Join(why, "; "))
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// unescapeMount undoes the octal escapes of mountinfo paths (\040 for a
// space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cpuQuota is the quota, in microseconds per period, of cgroup v2's
// cpu.max or v1's cpu.cfs_quota_us for a budget of cores.
func cpuQuota(cores float64) int64 {
	return max(1000, int64(math.Round(cores*float64(cgroupPeriod/time.Microsecond))))
}

// NewCPUGroup creates the group name (a single path element) with a quota
// of cores, in the unified hierarchy if it has the cpu controller, else in
// cgroup v1's cpu hierarchy. The error says why groups cannot be made
// here (not root, no cpu controller…).
// Cores 0 is no quota: a group only to Prioritize.
func NewCPUGroup(name string, cores float64) (*CPUGroup, error) {
	if cores < 0 {
		return nil, fmt.Errorf("cpu group %s: quota %v cores", name, cores)
	}
	if name == "" || strings.ContainsRune(name, '/') {
		return nil, fmt.Errorf("cpu group name %q: want one path element", name)
	}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer mi.Close()
	h, err := findCPUHierarchy(mi, func(dir string) (string, error) {
		raw, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		return string(raw), err
	})
	if err != nil {
		return nil, err
	}
	return newCPUGroup(h, name, cores)
}

func newCPUGroup(h cpuHierarchy, name string, cores float64) (*CPUGroup, error) {
	g := &CPUGroup{Path: filepath.Join(h.dir, name), Cores: cores, v2: h.v2, parent: h.dir}
	if h.v2 {
		// The children of the hierarchy's root get the cpu controller
		// only once the root hands it down.
		if err := os.WriteFile(filepath.Join(h.dir, "cgroup.subtree_control"), []byte("+cpu"), 0o644); err != nil {
			return nil, fmt.Errorf("enable the cpu controller under %s: %w", h.dir, err)
		}
	}
	if err := os.Mkdir(g.Path, 0o755); err != nil {
		return nil, fmt.Errorf("create cpu group: %w", err)
	}
	quota := cpuQuota(cores)
	period := int64(cgroupPeriod / time.Microsecond)
	var err error
	switch {
	case cores == 0:
	case h.v2:
		err = g.write("cpu.max", fmt.Sprintf("%d %d", quota, period))
	default:
		if err = g.write("cpu.cfs_period_us", strconv.FormatInt(period, 10)); err == nil {
			err = g.write("cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
		}
	}
	if err != nil {
		_ = os.Remove(g.Path)
		return nil, fmt.Errorf("set the quota of cpu group %s: %w", g.Path, err)
	}
	return g, nil
}

// Prioritize gives the group factor times the default CPU weight (v2's
// cpu.weight, v1's cpu.shares): under contention its processes together
// get factor times the CPU of a process outside any group.
func (g *CPUGroup) Prioritize(factor int) error {
	var err error
	if g.v2 {
		err = g.write("cpu.weight", strconv.Itoa(min(10000, 100*factor)))
	} else {
		err = g.write("cpu.shares", strconv.Itoa(1024*factor))
	}
	if err != nil {
		return fmt.Errorf("cpu weight of %s: %w", g.Path, err)
	}
	return nil
}

// V2 says whether the group is cgroup v2's.
func (g *CPUGroup) V2() bool { return g.v2 }

func (g *CPUGroup) write(file, value string) error {
	return os.WriteFile(filepath.Join(g.Path, file), []byte(value), 0o644)
}

// Add moves the process pid (all its threads) into the group.
func (g *CPUGroup) Add(pid int) error {
	if err := g.write("cgroup.procs", strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("move process %d into cpu group %s: %w", pid, g.Path, err)
	}
	return nil
}

// Procs are the processes in the group.
func (g *CPUGroup) Procs() ([]int, error) {
	raw, err := os.ReadFile(filepath.Join(g.Path, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(raw)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("cgroup.procs of %s: %q", g.Path, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// CPUStat is the group's quota accounting: the quota periods in which
// its processes ran and those in which they used up the quota and were
// stopped, and for how long.
type CPUStat struct {
	Periods, Throttled int64
	ThrottledTime      time.Duration
}

// Stat reads the group's cpu.stat.
func (g *CPUGroup) Stat() (CPUStat, error) {
	raw, err := os.ReadFile(filepath.Join(g.Path, "cpu.stat"))
	if err != nil {
		return CPUStat{}, err
	}
	return parseCPUStat(string(raw), g.v2), nil
}

// parseCPUStat reads cpu.stat: nr_periods, nr_throttled, and
// throttled_usec (v2) or throttled_time in nanoseconds (v1).
func parseCPUStat(raw string, v2 bool) CPUStat {
	var s CPUStat
	for line := range strings.Lines(raw) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "nr_periods":
			s.Periods = n
		case "nr_throttled":
			s.Throttled = n
		case "throttled_usec":
			if v2 {
				s.ThrottledTime = time.Duration(n) * time.Microsecond
			}
		case "throttled_time":
			if !v2 {
				s.ThrottledTime = time.Duration(n)
			}
		}
	}
	return s
}

// Remove moves any process left in the group to the hierarchy's root and
// deletes the group.
func (g *CPUGroup) Remove() error {
	pids, _ := g.Procs()
	for _, pid := range pids {
		_ = os.WriteFile(filepath.Join(g.parent, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
	}
	// The kernel may take a moment to let go of a process that just
	// exited.
	var err error
	for range 50 {
		if err = os.Remove(g.Path); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("remove cpu group: %w", err)
}

// GOMAXPROCS is the GOMAXPROCS for a Go process in the group: its quota,
// rounded up.
// Without a quota it is 0: the runtime's own choice.
func (g *CPUGroup) GOMAXPROCS() int {
	if g.Cores == 0 {
		return 0
	}
	return max(1, int(math.Ceil(g.Cores)))
}
