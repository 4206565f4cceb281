package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/internal/testutil"
)

// The scale-out scenario runs a cell as production does: broker processes
// sharing PostgreSQL and an S3 server (versitygw), found through their
// leases, leading partitions by rendezvous hashing. It measures the
// aggregate produce throughput of three brokers, starts a fourth under the
// same load, and measures again once the clients follow the metadata to
// it. Compaction is off in the cell (see startCellBench).
//
// Each broker process runs in a cgroup of its own with a CPU quota
// (-broker-cpus, a sixteenth of the machine's cores by default), as each
// broker of a real cell has the cores of its own node: the brokers'
// cores, not the machine's, are then what limits the cell, and a fourth
// broker adds cores of its own. Four budgets leave the rest of the
// machine to PostgreSQL, S3 and the clients. A quota is only a ceiling:
// so that other work on the machine does not decide the figures, the
// brokers' groups and one holding PostgreSQL, S3 and the clients (this
// process) get cellPriority times the CPU weight of an ungrouped process.
// Without root or a cpu controller the brokers run unbudgeted and the
// result says so.

const (
	scaleOutPartitions = 48
	scaleOutClients    = 4
	cellPriority       = 10
)

// cellBench is PostgreSQL, an S3 server and the broker processes sharing
// them.
type cellBench struct {
	dir     string
	pg      *testutil.Postgres
	s3      *testutil.S3Server
	storage testutil.StorageOptions
	brokers []*testutil.BrokerProcess
	db      *sql.DB // the cell's metadata DB, for its statistics

	// budget is each broker's CPU quota in cores; groups are the brokers'
	// cgroups, by broker, while they are budgeted. unbudgeted says why
	// they are not, when they are not.
	budget     float64
	groups     []*testutil.CPUGroup
	unbudgeted string
	// services holds PostgreSQL, S3 and this process, prioritized, when
	// the brokers are budgeted.
	services *testutil.CPUGroup
}

func startCellBench(ctx context.Context, dir string, brokers int, budget float64) (_ *cellBench, err error) {
	c := &cellBench{dir: dir, budget: budget}
	if budget <= 0 {
		c.unbudgeted = "-broker-cpus 0"
	}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	if c.pg, err = testutil.StartPostgres(ctx); err != nil {
		return nil, fmt.Errorf("start PostgreSQL: %w", err)
	}
	db, err := c.pg.NewDatabase(ctx)
	if err != nil {
		return nil, err
	}
	if c.s3, err = testutil.StartS3(ctx); err != nil {
		return nil, fmt.Errorf("start S3: %w", err)
	}
	bucket, err := c.s3.NewBucket(ctx)
	if err != nil {
		return nil, err
	}
	if c.unbudgeted == "" {
		if err := c.prioritizeServices(); err != nil {
			c.unbudgeted = err.Error()
			fmt.Fprintln(os.Stderr, "    brokers unbudgeted:", err)
		}
	}
	// No compaction: a pass landing in one measurement and not the other
	// would decide the comparison, which is of the produce path.
	c.storage = testutil.StorageOptions{ObjectStoreURL: bucket, MetadataURL: db, CompactionInterval: -1}
	if c.db, err = sql.Open("pgx", db); err != nil {
		return nil, err
	}
	for range brokers {
		if err := c.addBroker(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// prioritizeServices moves PostgreSQL, S3 and this process (the clients)
// into a group of high CPU weight and no quota. Processes they start later
// (PostgreSQL's backends) are born in it.
func (c *cellBench) prioritizeServices() (err error) {
	g, err := testutil.NewCPUGroup(fmt.Sprintf("affluent-bench-%d-services", os.Getpid()), 0)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = g.Remove()
		}
	}()
	if err := g.Prioritize(cellPriority); err != nil {
		return err
	}
	for _, pr := range descendants(os.Getpid()) {
		if err := g.Add(pr.pid); err != nil && pr.pid == os.Getpid() {
			return err // others may have exited meanwhile
		}
	}
	c.services = g
	return nil
}

// addBroker starts one more broker process of the cell and waits until it
// serves.
func (c *cellBench) addBroker() error {
	var group *testutil.CPUGroup
	if c.unbudgeted == "" {
		g, err := testutil.NewCPUGroup(fmt.Sprintf("affluent-bench-%d-broker-%d", os.Getpid(), len(c.brokers)), c.budget)
		switch {
		case err == nil:
			group = g
			c.groups = append(c.groups, g)
			if err := g.Prioritize(cellPriority); err != nil {
				return err
			}
		case len(c.groups) == 0:
			// The first broker: run them all unbudgeted, and say why.
			c.unbudgeted = err.Error()
			fmt.Fprintln(os.Stderr, "    brokers unbudgeted:", err)
		default:
			return err // budgets for some brokers and not others would compare nothing
		}
	}
	b, err := testutil.LaunchBrokerProcess(testutil.BrokerProcessOptions{
		DataDir:    filepath.Join(c.dir, fmt.Sprintf("broker-%d", len(c.brokers))),
		Storage:    c.storage,
		Anonymous:  true,
		Membership: &testutil.MembershipOptions{NodeID: -1},
		CPUGroup:   group,
	})
	if err != nil {
		return err
	}
	c.brokers = append(c.brokers, b)
	return nil
}

// budgetNote says how the brokers' CPU was budgeted.
func (c *cellBench) budgetNote() string {
	if c.unbudgeted != "" {
		return "brokers unbudgeted: " + c.unbudgeted
	}
	kind := "cgroup v1 cpu.cfs_quota_us"
	if c.groups[0].V2() {
		kind = "cgroup v2 cpu.max"
	}
	return fmt.Sprintf("brokers budgeted %.3g cores each (%s, GOMAXPROCS %d; brokers, PostgreSQL, S3 and clients at %d× CPU weight)",
		c.budget, kind, c.groups[0].GOMAXPROCS(), cellPriority)
}

func (c *cellBench) stop() {
	for _, b := range c.brokers {
		if err := b.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "scale-out:", err)
		}
	}
	for _, g := range c.groups {
		if err := g.Remove(); err != nil {
			fmt.Fprintln(os.Stderr, "scale-out:", err)
		}
	}
	c.groups = nil
	if c.services != nil {
		// Moves this process and what is left of PostgreSQL and S3 back.
		if err := c.services.Remove(); err != nil {
			fmt.Fprintln(os.Stderr, "scale-out:", err)
		}
		c.services = nil
	}
	if c.db != nil {
		_ = c.db.Close()
	}
	if c.s3 != nil {
		c.s3.Stop()
	}
	if c.pg != nil {
		c.pg.Stop()
	}
}

func (c *cellBench) client(opts ...kgo.Opt) (*kgo.Client, error) {
	seeds := make([]string, len(c.brokers))
	for i, b := range c.brokers {
		seeds[i] = b.Addr
	}
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(250 * time.Millisecond)}, opts...)...)
}

// cpuSample is the CPU time spent so far by the machine and by the
// processes of the scenario, and the transactions PostgreSQL committed.
type cpuSample struct {
	at       time.Time
	busy     time.Duration // all cores of the machine
	brokers  time.Duration
	newest   time.Duration // the broker started last, of brokers
	postgres time.Duration // the server and its backends
	s3       time.Duration
	clients  time.Duration // this process: the producing clients
	commits  int64         // transactions committed in the cell's database
	// periods and throttled count the quota periods in which the
	// budgeted brokers ran, and those in which one used up its quota.
	periods, throttled int64
}

func (c *cellBench) sample(ctx context.Context) cpuSample {
	s := cpuSample{at: time.Now(), busy: machineBusy()}
	brokers := map[int]bool{}
	for _, b := range c.brokers {
		brokers[b.Pid()] = true
	}
	newest := c.brokers[len(c.brokers)-1].Pid()
	self := os.Getpid()
	for _, pr := range descendants(self) {
		switch {
		case pr.pid == self:
			s.clients += pr.cpu
		case brokers[pr.pid]:
			s.brokers += pr.cpu
			if pr.pid == newest {
				s.newest = pr.cpu
			}
		case pr.comm == "postgres":
			s.postgres += pr.cpu
		case strings.Contains(pr.comm, "versitygw"):
			s.s3 += pr.cpu
		}
	}
	for _, g := range c.groups {
		if st, err := g.Stat(); err == nil {
			s.periods += st.Periods
			s.throttled += st.Throttled
		}
	}
	if c.db != nil {
		// Statistics reach pg_stat_database within a second or so:
		// good enough over a measurement of several.
		_ = c.db.QueryRowContext(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&s.commits)
	}
	return s
}

// usage is what a measurement window kept busy, in cores, and PostgreSQL's
// commits per second.
type usage struct {
	busy, brokers, newest, postgres, s3, clients, other float64
	commitsPerSec                                       float64
	// throttled is the share of the brokers' quota periods in which a
	// broker used up its budget.
	throttled float64
}

// cell is the cores the cell used: brokers, PostgreSQL, S3 and clients.
func (u usage) cell() float64 { return u.brokers + u.postgres + u.s3 + u.clients }

func usageBetween(a, b cpuSample) usage {
	d := b.at.Sub(a.at).Seconds()
	u := usage{
		busy:          (b.busy - a.busy).Seconds() / d,
		brokers:       (b.brokers - a.brokers).Seconds() / d,
		newest:        (b.newest - a.newest).Seconds() / d,
		postgres:      (b.postgres - a.postgres).Seconds() / d,
		s3:            (b.s3 - a.s3).Seconds() / d,
		clients:       (b.clients - a.clients).Seconds() / d,
		commitsPerSec: float64(b.commits-a.commits) / d,
	}
	u.other = max(0, u.busy-u.brokers-u.postgres-u.s3-u.clients)
	if n := b.periods - a.periods; n > 0 {
		u.throttled = float64(b.throttled-a.throttled) / float64(n)
	}
	return u
}

// proc is one process of the tree under this one, with the CPU time it
// and its exited children spent.
type proc struct {
	pid  int
	comm string
	cpu  time.Duration
}

// clockTick is the unit of /proc CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// descendants are root and every process under it, with their CPU time.
func descendants(root int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	all := map[int]proc{}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid … utime stime: comm may hold spaces and
		// parentheses, so fields count from its last ")".
		line := string(raw)
		open, shut := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
		if open < 0 || shut < open {
			continue
		}
		f := strings.Fields(line[shut+1:])
		if len(f) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		// utime, stime, and cutime, cstime: the CPU of children that
		// exited (PostgreSQL's backends and autovacuum workers come and
		// go), counted with their parent.
		var ticks int64
		for _, i := range []int{11, 12, 13, 14} {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
		all[pid] = proc{pid: pid, comm: line[open+1 : shut], cpu: time.Duration(ticks) * clockTick}
		children[ppid] = append(children[ppid], pid)
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if pr, ok := all[pid]; ok {
			out = append(out, pr)
		}
		queue = append(queue, children[pid]...)
	}
	return out
}

// machineBusy is the CPU time all cores spent outside idle and iowait.
func machineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal guest guest_nice
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest times are in user already
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * clockTick
}

// scaleOut measures produce throughput of three brokers, then of four.
func scaleOut(ctx context.Context, env *runEnv) (Measurement, error) {
	warm, d := 5*time.Second, env.opts.duration()
	if env.opts.quick {
		warm = 2 * time.Second
	}
	dir := filepath.Join(env.opts.dataDir, "scale-out")
	c, err := startCellBench(ctx, dir, 3, env.opts.brokerCPUs)
	if err != nil {
		return Measurement{}, err
	}
	defer c.stop()

	const topic = "bench-scale-out"
	admCl, err := c.client()
	if err != nil {
		return Measurement{}, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	resp, err := adm.CreateTopic(ctx, scaleOutPartitions, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return Measurement{}, fmt.Errorf("create topic: %w", err)
	}

	var acked, failed atomic.Int64
	var firstErr atomic.Value
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopLoad()
	for range scaleOutClients {
		cl, err := c.client(kgo.MaxBufferedRecords(16<<10), kgo.ProducerBatchMaxBytes(1<<20),
			kgo.ProducerBatchCompression(kgo.NoCompression()))
		if err != nil {
			return Measurement{}, err
		}
		wg.Go(func() {
			defer cl.Close()
			done := func(r *kgo.Record, err error) {
				if err != nil {
					if loadCtx.Err() == nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
					return
				}
				acked.Add(int64(len(r.Value)))
			}
			for i := 0; loadCtx.Err() == nil; i++ {
				cl.Produce(loadCtx, &kgo.Record{Topic: topic, Value: values[i%len(values)]}, done)
			}
		})
	}

	// measure waits out warm, then returns the bytes acknowledged over d
	// and the CPU the machine spent meanwhile.
	measure := func(warm time.Duration) (int64, cpuSample, cpuSample, error) {
		select {
		case <-time.After(warm):
		case <-ctx.Done():
			return 0, cpuSample{}, cpuSample{}, ctx.Err()
		}
		before, cpu0 := acked.Load(), c.sample(ctx)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return 0, cpuSample{}, cpuSample{}, ctx.Err()
		}
		after, cpu1 := acked.Load(), c.sample(ctx)
		if f := failed.Load(); f > 0 {
			return 0, cpu0, cpu1, fmt.Errorf("%d records failed, first: %v", f, firstErr.Load())
		}
		return after - before, cpu0, cpu1, nil
	}

	bytes3, a0, a1, err := measure(warm)
	if err != nil {
		return Measurement{}, fmt.Errorf("3 brokers: %w", err)
	}
	three := mbps(bytes3, a1.at.Sub(a0.at))
	most3, fewest3 := leaderSpread(ctx, adm, topic, 3)
	fmt.Fprintf(os.Stderr, "    3 brokers: %.2f MiB/s; starting a fourth…\n", three)
	joinStart := time.Now()
	if err := c.addBroker(); err != nil {
		return Measurement{}, err
	}
	led, err := waitLeads(ctx, adm, topic, c.brokers[3].Addr)
	if err != nil {
		return Measurement{}, err
	}
	joined := time.Since(joinStart)
	fmt.Fprintf(os.Stderr, "    the fourth broker leads %d of %d partitions %v after it was started\n",
		led, scaleOutPartitions, joined.Round(time.Millisecond))
	// The new broker starts cold on its small budget (DB pools, config
	// snapshot, first flushes) while clients move their partitions to it:
	// the second window waits as long as the full run's warm-up even in a
	// quick run, or it measures the move rather than four brokers.
	bytes4, b0, b1, err := measure(max(warm, 5*time.Second))
	if err != nil {
		return Measurement{}, fmt.Errorf("4 brokers: %w", err)
	}
	four := mbps(bytes4, b1.at.Sub(b0.at))
	fmt.Fprintf(os.Stderr, "    4 brokers: %.2f MiB/s\n", four)
	ledEnd, _ := leads(ctx, adm, topic, c.brokers[3].Addr)
	most4, fewest4 := leaderSpread(ctx, adm, topic, 4)
	stopLoad()

	u3, u4 := usageBetween(a0, a1), usageBetween(b0, b1)
	extra := map[string]float64{}
	if len(c.groups) > 0 {
		// The brokers' cores against their budgets: near 1 with most
		// periods throttled means the budget is what limits them.
		extra["broker_budget_cores"] = c.budget
		extra["broker_budget_used_3"] = u3.brokers / (3 * c.budget)
		extra["broker_budget_used_4"] = u4.brokers / (4 * c.budget)
		extra["broker_throttled_3"], extra["broker_throttled_4"] = u3.throttled, u4.throttled
	}
	m := Measurement{
		Value:   four,
		Note:    c.budgetNote(),
		Samples: int((bytes3 + bytes4) / recordSize),
		Extra: map[string]float64{
			"three_brokers_mib_s": three, "four_brokers_mib_s": four, "gain": four / three, "join_ms": ms(joined),
			"busy_cores_3": u3.busy, "busy_cores_4": u4.busy,
			"broker_cores_3": u3.brokers, "broker_cores_4": u4.brokers, "fourth_broker_cores": u4.newest,
			"postgres_cores_3": u3.postgres, "postgres_cores_4": u4.postgres,
			"s3_cores_3": u3.s3, "s3_cores_4": u4.s3,
			"client_cores_3": u3.clients, "client_cores_4": u4.clients,
			"other_cores_3": u3.other, "other_cores_4": u4.other,
			"db_commits_per_s_3": u3.commitsPerSec, "db_commits_per_s_4": u4.commitsPerSec,
			// Other processes of the machine take a share that varies:
			// throughput per core the cell used is the steadier figure.
			"mib_s_per_cell_core_3": three / u3.cell(), "mib_s_per_cell_core_4": four / u4.cell(),
			// With budget-bound brokers, the gain is their cores' gain
			// times this one's.
			"mib_s_per_broker_core_3": three / u3.brokers, "mib_s_per_broker_core_4": four / u4.brokers,
			"most_leads_3": float64(most3), "fewest_leads_3": float64(fewest3),
			"most_leads_4": float64(most4), "fewest_leads_4": float64(fewest4),
			"fourth_leads": float64(led), "fourth_leads_end": float64(ledEnd), "partitions": scaleOutPartitions,
		},
	}
	maps.Copy(m.Extra, extra)
	return m, nil
}

// leaderSpread is the most partitions of topic one broker leads, and the
// fewest: with the load spread evenly over partitions, the busiest broker
// holds the clients' buffers and bounds the cell.
func leaderSpread(ctx context.Context, adm *kadm.Client, topic string, brokers int) (most, fewest int) {
	meta, err := adm.Metadata(ctx, topic)
	if err != nil {
		return 0, 0
	}
	by := map[int32]int{}
	for _, p := range meta.Topics[topic].Partitions {
		by[p.Leader]++
	}
	fewest = scaleOutPartitions
	if len(by) < brokers {
		fewest = 0
	}
	for _, n := range by {
		most, fewest = max(most, n), min(fewest, n)
	}
	return most, fewest
}

// leads is how many partitions of topic the broker at addr leads.
func leads(ctx context.Context, adm *kadm.Client, topic, addr string) (int, error) {
	meta, err := adm.Metadata(ctx, topic)
	if err != nil {
		return 0, err
	}
	id := int32(-1)
	for _, b := range meta.Brokers {
		if b.Host+":"+strconv.Itoa(int(b.Port)) == addr {
			id = b.NodeID
		}
	}
	led := 0
	for _, p := range meta.Topics[topic].Partitions {
		if p.Leader == id {
			led++
		}
	}
	return led, nil
}

// waitLeads waits until the broker at addr is in the metadata and leads
// some partitions of topic, and returns how many.
func waitLeads(ctx context.Context, adm *kadm.Client, topic, addr string) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		led, err := leads(ctx, adm, topic, addr)
		if err == nil && led > 0 {
			return led, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("leads no partition")
			}
			return 0, fmt.Errorf("new broker %s not leading 30s after it started: %w", addr, err)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}
