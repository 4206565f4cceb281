package tiered

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/storage"
)

func TestCatalog(t *testing.T) { forEachBackend(t, testCatalog) }

func testCatalog(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	ctx := context.Background()

	orders, err := s.CreateTopic(ctx, "c", "orders", 3, map[string]string{"cleanup.policy": "compact", "retention.ms": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	if orders.ID == ([16]byte{}) || orders.Partitions != 3 || orders.CreateTime.IsZero() {
		t.Fatalf("created %+v", orders)
	}
	if _, err := s.CreateTopic(ctx, "c", "orders", 1, nil); !errors.Is(err, storage.ErrTopicExists) {
		t.Fatalf("create twice: %v, want ErrTopicExists", err)
	}
	for _, n := range []int32{0, -1} {
		if _, err := s.CreateTopic(ctx, "c", "bad", n, nil); !errors.Is(err, storage.ErrInvalidPartitions) {
			t.Fatalf("create with %d partitions: %v, want ErrInvalidPartitions", n, err)
		}
	}
	createTopic(t, s, "c", "audit", 1)
	createTopic(t, s, "other", "orders", 1) // same name, other cluster

	if err := s.AddPartitions(ctx, "c", "orders", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPartitions(ctx, "c", "orders", 5); !errors.Is(err, storage.ErrInvalidPartitions) {
		t.Fatalf("add partitions to the same count: %v, want ErrInvalidPartitions", err)
	}
	if err := s.AddPartitions(ctx, "c", "nope", 5); !errors.Is(err, storage.ErrUnknownTopic) {
		t.Fatalf("add partitions to unknown topic: %v", err)
	}
	mustAppend(t, s, storage.TopicPartition{Cluster: "c", Topic: "orders", Partition: 4}, makeBatch(t, batchSpec{}))

	if err := s.UpdateConfigs(ctx, "c", "orders", map[string]string{"retention.ms": "2000", "segment.ms": "5"}, []string{"cleanup.policy"}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceConfigs(ctx, "c", "audit", map[string]string{"max.message.bytes": "100"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateConfigs(ctx, "c", "nope", nil, nil); !errors.Is(err, storage.ErrUnknownTopic) {
		t.Fatalf("configure unknown topic: %v", err)
	}

	check := func(s *Store) {
		t.Helper()
		got, err := s.Topic(ctx, "c", "orders")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"retention.ms": "2000", "segment.ms": "5"}
		if got.ID != orders.ID || got.Partitions != 5 || !maps.Equal(got.Configs, want) || !got.CreateTime.Equal(orders.CreateTime) {
			t.Fatalf("topic %+v, want id %x, 5 partitions, configs %v, created %v", got, orders.ID, want, orders.CreateTime)
		}
		byID, err := s.TopicByID(ctx, "c", orders.ID)
		if err != nil || !reflect.DeepEqual(byID, got) {
			t.Fatalf("by id: %+v %v, want %+v", byID, err, got)
		}
		if _, err := s.TopicByID(ctx, "other", orders.ID); !errors.Is(err, storage.ErrUnknownTopic) {
			t.Fatalf("topic by id from another cluster: %v, want ErrUnknownTopic", err)
		}
		all, err := s.Topics(ctx, "c")
		if err != nil || len(all) != 2 || all[0].Name != "audit" || all[1].Name != "orders" {
			t.Fatalf("topics of c: %+v %v, want audit and orders", all, err)
		}
		if !maps.Equal(all[0].Configs, map[string]string{"max.message.bytes": "100"}) {
			t.Fatalf("audit configs %v", all[0].Configs)
		}
		if none, err := s.Topics(ctx, "empty"); err != nil || len(none) != 0 {
			t.Fatalf("topics of an empty cluster: %v %v", none, err)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(openStore(t, cfg))
}

func TestGroupsStore(t *testing.T) { forEachBackend(t, testGroupsStore) }

func testGroupsStore(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	ctx := context.Background()
	g := groups.GroupRecord{
		Name: "billing", ProtocolType: "consumer", Protocol: "range", Generation: 3, Leader: "m1", State: "Stable",
		Members: []groups.MemberRecord{
			{MemberID: "m1", ClientID: "app", ClientHost: "/10.0.0.1", SessionTimeoutMs: 45000,
				RebalanceTimeoutMs: 60000, Metadata: []byte{0, 1, 2}, Assignment: []byte{3, 4}},
			{MemberID: "m2", GroupInstanceID: "static-2", Metadata: []byte{5}},
		},
	}
	if err := s.SaveGroup(ctx, "c", g); err != nil {
		t.Fatal(err)
	}
	// Saves are made over the version read: a second first save, or a
	// save over a version since replaced, is refused and writes nothing.
	if err := s.SaveGroup(ctx, "c", g); !errors.Is(err, groups.ErrGroupFenced) {
		t.Fatalf("second save of a new group: %v, want ErrGroupFenced", err)
	}
	g.Generation, g.Version = 4, 1
	if err := s.SaveGroup(ctx, "c", g); err != nil {
		t.Fatal(err)
	}
	stale := g
	stale.Generation = 9
	if err := s.SaveGroup(ctx, "c", stale); !errors.Is(err, groups.ErrGroupFenced) {
		t.Fatalf("save over a replaced version: %v, want ErrGroupFenced", err)
	}
	g.Version = 2
	if err := s.SaveGroup(ctx, "other", groups.GroupRecord{Name: "billing", State: "Empty"}); err != nil {
		t.Fatal(err)
	}
	offsets := []groups.CommittedOffset{
		{Topic: "orders", Partition: 0, Offset: 10, LeaderEpoch: -1, Metadata: "m", CommitTime: 1},
		{Topic: "orders", Partition: 1, Offset: 20, LeaderEpoch: 2, CommitTime: 2},
		{Topic: "audit", Partition: 0, Offset: 5, CommitTime: 3},
	}
	if err := s.CommitOffsets(ctx, "c", "billing", offsets); err != nil {
		t.Fatal(err)
	}
	offsets[0].Offset = 11
	if err := s.CommitOffsets(ctx, "c", "billing", offsets[:1]); err != nil {
		t.Fatal(err)
	}
	// Commits made over a version of the group other than the stored one
	// write nothing; over the stored one (0 for a group without a record)
	// they are made.
	regress := []groups.CommittedOffset{offsets[0]}
	regress[0].Offset = 1
	for _, v := range []int64{0, 1, 3} {
		if err := s.CommitOffsetsAt(ctx, "c", "billing", v, regress); !errors.Is(err, groups.ErrGroupFenced) {
			t.Fatalf("commit over version %d of a group at 2: %v, want ErrGroupFenced", v, err)
		}
	}
	if err := s.CommitOffsetsAt(ctx, "c", "billing", 2, offsets[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitOffsetsAt(ctx, "c", "no-record", 0, offsets[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitOffsetsAt(ctx, "c", "no-record", 1, regress); !errors.Is(err, groups.ErrGroupFenced) {
		t.Fatalf("commit over version 1 of a group without a record: %v, want ErrGroupFenced", err)
	}
	if err := s.DeleteOffsets(ctx, "c", "no-record", "orders", []int32{0}); err != nil {
		t.Fatal(err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, cfg)

	loaded, err := s.LoadGroups(ctx, "c")
	if err != nil || len(loaded) != 1 || !reflect.DeepEqual(loaded[0], g) {
		t.Fatalf("load groups: %+v %v, want %+v", loaded, err, g)
	}
	all, err := s.FetchOffsets(ctx, "c", "billing", nil)
	want := []groups.CommittedOffset{offsets[2], offsets[0], offsets[1]}
	if err != nil || !reflect.DeepEqual(all, want) {
		t.Fatalf("fetch all offsets: %+v %v, want %+v", all, err, want)
	}
	some, err := s.FetchOffsets(ctx, "c", "billing", []string{"orders", "missing"})
	if err != nil || !reflect.DeepEqual(some, offsets[:2]) {
		t.Fatalf("fetch orders offsets: %+v %v", some, err)
	}
	if err := s.DeleteOffsets(ctx, "c", "billing", "orders", []int32{1}); err != nil {
		t.Fatal(err)
	}
	if some, _ := s.FetchOffsets(ctx, "c", "billing", []string{"orders"}); len(some) != 1 || some[0].Partition != 0 {
		t.Fatalf("after deleting orders/1: %+v", some)
	}

	// Deleting a topic drops its committed offsets, as Kafka does.
	createTopic(t, s, "c", "audit", 1)
	if err := s.DeleteTopic(ctx, "c", "audit"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FetchOffsets(ctx, "c", "billing", []string{"audit"}); len(got) != 0 {
		t.Fatalf("offsets of a deleted topic survive: %+v", got)
	}

	if err := s.DeleteGroup(ctx, "c", "billing"); err != nil {
		t.Fatal(err)
	}
	if loaded, _ := s.LoadGroups(ctx, "c"); len(loaded) != 0 {
		t.Fatalf("groups after delete: %+v", loaded)
	}
	if got, _ := s.FetchOffsets(ctx, "c", "billing", nil); len(got) != 0 {
		t.Fatalf("offsets after group delete: %+v", got)
	}
	if other, _ := s.LoadGroups(ctx, "other"); len(other) != 1 {
		t.Fatalf("the other cluster's group went too: %+v", other)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		errs int
	}{
		{"ok", Config{ObjectStoreURL: "file:///x", MetadataURL: "/x.db"}, 0},
		{"missing URLs", Config{}, 2},
		{"negatives", Config{ObjectStoreURL: "file:///x", MetadataURL: "/x.db", Linger: -1, MaxBufferBytes: -1, CacheBytes: -1}, 3},
		{"compactor negatives", Config{ObjectStoreURL: "file:///x", MetadataURL: "/x.db", WALHold: -1, GCGrace: -1,
			DefaultSegmentBytes: -1, CompactionWorkers: -1}, 4},
		{"short orphan grace", Config{ObjectStoreURL: "file:///x", MetadataURL: "/x.db", OrphanGrace: time.Minute}, 1},
		{"local bytes without a dir", Config{ObjectStoreURL: "file:///x", MetadataURL: "/x.db", LocalCacheBytes: 1}, 1},
	} {
		err := c.cfg.Validate()
		n := 0
		if err != nil {
			n = len(err.(interface{ Unwrap() []error }).Unwrap())
		}
		if n != c.errs {
			t.Errorf("%s: %v, want %d problems", c.name, err, c.errs)
		}
	}
}

func TestMetadataURLs(t *testing.T) {
	for _, c := range []struct {
		url, dialect, target string
		bad                  bool
	}{
		{url: "sqlite:///var/lib/a.db", dialect: "sqlite", target: "/var/lib/a.db"},
		{url: "sqlite://rel/a.db", dialect: "sqlite", target: "rel/a.db"},
		{url: "/var/lib/a.db", dialect: "sqlite", target: "/var/lib/a.db"},
		{url: "postgres://u@h/db", dialect: "postgres", target: "postgres://u@h/db"},
		{url: "mysql://h/db", bad: true},
	} {
		d, target, err := parseMetadataURL(c.url)
		if c.bad != (err != nil) || (!c.bad && (d.name != c.dialect || target != c.target)) {
			t.Errorf("%s: %s %s %v, want %s %s", c.url, d.name, target, err, c.dialect, c.target)
		}
	}
}

func TestTopicPolicy(t *testing.T) {
	cfg := Config{}
	cfg.SetDefaults()
	day := (24 * time.Hour).Milliseconds()
	for _, c := range []struct {
		name    string
		configs map[string]string
		check   func(p topicPolicy) bool
	}{
		{"defaults", nil, func(p topicPolicy) bool {
			return p.delete && !p.compact && p.retentionMs == 7*day && p.retentionBytes == -1 &&
				p.segmentBytes == DefaultSegmentBytes && p.segmentMs == DefaultSegmentAge.Milliseconds() &&
				p.deleteRetentionMs == day && p.minCleanableRatio == 0.5 &&
				p.localRetentionMs == 7*day && p.localRetentionBytes == -1
		}},
		{"compact", map[string]string{"cleanup.policy": "compact"}, func(p topicPolicy) bool { return p.compact && !p.delete }},
		{"compact and delete", map[string]string{"cleanup.policy": "compact, delete"}, func(p topicPolicy) bool { return p.compact && p.delete }},
		{"unknown policy means delete", map[string]string{"cleanup.policy": "nope"}, func(p topicPolicy) bool { return p.delete && !p.compact }},
		{"forever", map[string]string{"retention.ms": "-1", "retention.bytes": "-1"}, func(p topicPolicy) bool {
			return p.retentionMs == -1 && p.retentionBytes == -1 && p.localRetentionMs == -1
		}},
		{"local follows retention", map[string]string{"retention.bytes": "1000", "local.retention.ms": "5"}, func(p topicPolicy) bool {
			return p.localRetentionBytes == 1000 && p.localRetentionMs == 5
		}},
		{"bad values are ignored", map[string]string{"retention.ms": "soon", "segment.bytes": "1", "min.cleanable.dirty.ratio": "2"},
			func(p topicPolicy) bool {
				return p.retentionMs == 7*day && p.segmentBytes == DefaultSegmentBytes && p.minCleanableRatio == 0.5
			}},
	} {
		if p := cfg.policyOf(c.configs); !c.check(p) {
			t.Errorf("%s: %+v", c.name, p)
		}
	}
}
