package broker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/storage"
)

// memStorage is an in-memory storage.Catalog, storage.Log and groups.Store
// for unit tests: enough Kafka semantics (offsets, idempotent sequences,
// watches) to drive real clients, none of the durability.
type memStorage struct {
	mu      sync.Mutex // guards everything below
	topics  map[string]map[string]*memTopic
	nextPID int64
	watches map[storage.TopicPartition]chan struct{}
	appends int // Append calls, for tests

	groups  map[string]groups.GroupRecord
	offsets map[string]map[topicPartition]groups.CommittedOffset

	// appendDelay, when set, delays each Append (tests of ordering).
	appendDelay time.Duration
}

type memTopic struct {
	storage.Topic
	parts []*memPartition
}

type memPartition struct {
	batches   []memBatch
	start     int64
	end       int64
	producers map[int64]memProducer
}

type memBatch struct {
	base, last int64
	raw        []byte
	firstTS    int64
	maxTS      int64
	seq        int32
}

type memProducer struct {
	epoch   int16
	baseSeq int32 // of the last batch
	lastSeq int32
	base    int64
}

var (
	_ storage.Catalog = (*memStorage)(nil)
	_ storage.Log     = (*memStorage)(nil)
	_ groups.Store    = (*memStorage)(nil)
)

func newMemStorage() *memStorage {
	return &memStorage{
		topics:  make(map[string]map[string]*memTopic),
		watches: make(map[storage.TopicPartition]chan struct{}),
		groups:  make(map[string]groups.GroupRecord),
		offsets: make(map[string]map[topicPartition]groups.CommittedOffset),
		nextPID: 1000,
	}
}

func (m *memStorage) topic(cluster, name string) (*memTopic, error) {
	t, ok := m.topics[cluster][name]
	if !ok {
		return nil, storage.ErrUnknownTopic
	}
	return t, nil
}

func (m *memStorage) partition(tp storage.TopicPartition) (*memPartition, error) {
	t, err := m.topic(tp.Cluster, tp.Topic)
	if err != nil {
		return nil, err
	}
	if tp.Partition < 0 || int(tp.Partition) >= len(t.parts) {
		return nil, storage.ErrUnknownTopic
	}
	return t.parts[tp.Partition], nil
}

func (m *memStorage) CreateTopic(_ context.Context, cluster, name string, partitions int32, configs map[string]string) (storage.Topic, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.topic(cluster, name); err == nil {
		return storage.Topic{}, storage.ErrTopicExists
	}
	if m.topics[cluster] == nil {
		m.topics[cluster] = make(map[string]*memTopic)
	}
	t := &memTopic{Topic: storage.Topic{Cluster: cluster, Name: name, Partitions: partitions, Configs: maps.Clone(configs), CreateTime: time.Now()}}
	_, _ = rand.Read(t.ID[:])
	if t.Configs == nil {
		t.Configs = map[string]string{}
	}
	for range partitions {
		t.parts = append(t.parts, &memPartition{producers: make(map[int64]memProducer)})
	}
	m.topics[cluster][name] = t
	return t.copy(), nil
}

func (t *memTopic) copy() storage.Topic {
	c := t.Topic
	c.Configs = maps.Clone(t.Configs)
	return c
}

func (m *memStorage) DeleteTopic(_ context.Context, cluster, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.topic(cluster, name); err != nil {
		return err
	}
	delete(m.topics[cluster], name)
	return nil
}

func (m *memStorage) Topic(_ context.Context, cluster, name string) (storage.Topic, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.topic(cluster, name)
	if err != nil {
		return storage.Topic{}, err
	}
	return t.copy(), nil
}

func (m *memStorage) TopicByID(_ context.Context, cluster string, id [16]byte) (storage.Topic, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.topics[cluster] {
		if t.ID == id {
			return t.copy(), nil
		}
	}
	return storage.Topic{}, storage.ErrUnknownTopic
}

func (m *memStorage) Topics(_ context.Context, cluster string) ([]storage.Topic, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []storage.Topic
	for _, name := range slices.Sorted(maps.Keys(m.topics[cluster])) {
		out = append(out, m.topics[cluster][name].copy())
	}
	return out, nil
}

func (m *memStorage) AddPartitions(_ context.Context, cluster, name string, total int32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.topic(cluster, name)
	if err != nil {
		return err
	}
	if total <= t.Partitions {
		return storage.ErrInvalidPartitions
	}
	for range total - t.Partitions {
		t.parts = append(t.parts, &memPartition{producers: make(map[int64]memProducer)})
	}
	t.Partitions = total
	return nil
}

func (m *memStorage) UpdateConfigs(_ context.Context, cluster, name string, set map[string]string, remove []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.topic(cluster, name)
	if err != nil {
		return err
	}
	maps.Copy(t.Configs, set)
	for _, k := range remove {
		delete(t.Configs, k)
	}
	return nil
}

func (m *memStorage) ReplaceConfigs(_ context.Context, cluster, name string, configs map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.topic(cluster, name)
	if err != nil {
		return err
	}
	t.Configs = maps.Clone(configs)
	return nil
}

func (m *memStorage) Append(ctx context.Context, tp storage.TopicPartition, b storage.Batch) (storage.AppendResult, error) {
	if m.appendDelay > 0 {
		select {
		case <-time.After(m.appendDelay):
		case <-ctx.Done():
			return storage.AppendResult{}, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.appends++
	p, err := m.partition(tp)
	if err != nil {
		return storage.AppendResult{}, err
	}
	if b.ProducerID >= 0 {
		prev, known := p.producers[b.ProducerID]
		switch {
		case known && b.ProducerEpoch < prev.epoch:
			return storage.AppendResult{}, storage.ErrInvalidProducerEpoch
		case known && b.ProducerEpoch == prev.epoch && b.BaseSequence == prev.baseSeq:
			return storage.AppendResult{BaseOffset: prev.base, LogAppendTime: -1, LogStartOffset: p.start}, storage.ErrDuplicateSequence
		case known && b.ProducerEpoch == prev.epoch && b.BaseSequence != prev.lastSeq+1:
			return storage.AppendResult{}, storage.ErrOutOfOrderSequence
		case (!known || b.ProducerEpoch > prev.epoch) && b.BaseSequence != 0:
			return storage.AppendResult{}, storage.ErrOutOfOrderSequence
		}
	}
	raw := slices.Clone(b.Raw)
	binary.BigEndian.PutUint64(raw, uint64(p.end))
	mb := memBatch{base: p.end, last: p.end + int64(b.NumRecords) - 1, raw: raw, firstTS: b.FirstTimestamp, maxTS: b.MaxTimestamp, seq: b.BaseSequence}
	res := storage.AppendResult{BaseOffset: p.end, LogAppendTime: -1, LogStartOffset: p.start}
	if b.LogAppendTime {
		res.LogAppendTime = time.Now().UnixMilli()
	}
	p.batches = append(p.batches, mb)
	p.end += int64(b.NumRecords)
	if b.ProducerID >= 0 {
		p.producers[b.ProducerID] = memProducer{epoch: b.ProducerEpoch, baseSeq: b.BaseSequence, lastSeq: b.BaseSequence + b.NumRecords - 1, base: mb.base}
	}
	if ch, ok := m.watches[tp]; ok {
		close(ch)
		delete(m.watches, tp)
	}
	return res, nil
}

func (m *memStorage) Read(_ context.Context, tp storage.TopicPartition, offset int64, maxBytes int32) (storage.ReadResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.partition(tp)
	if err != nil {
		return storage.ReadResult{}, err
	}
	if offset < p.start || offset > p.end {
		return storage.ReadResult{}, storage.ErrOffsetOutOfRange
	}
	res := storage.ReadResult{HighWatermark: p.end, LastStableOffset: p.end, LogStartOffset: p.start}
	for _, b := range p.batches {
		if b.last < offset {
			continue
		}
		if len(res.Records) > 0 && len(res.Records)+len(b.raw) > int(maxBytes) {
			break
		}
		res.Records = append(res.Records, b.raw...)
	}
	return res, nil
}

func (m *memStorage) Offsets(_ context.Context, tp storage.TopicPartition) (int64, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.partition(tp)
	if err != nil {
		return 0, 0, err
	}
	return p.start, p.end, nil
}

func (m *memStorage) OffsetForTime(_ context.Context, tp storage.TopicPartition, ts int64) (int64, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.partition(tp)
	if err != nil {
		return 0, 0, err
	}
	for _, b := range p.batches {
		if b.maxTS >= ts && b.last >= p.start {
			return max(b.base, p.start), b.firstTS, nil
		}
	}
	return -1, -1, nil
}

func (m *memStorage) MaxTimestamp(_ context.Context, tp storage.TopicPartition) (int64, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.partition(tp)
	if err != nil {
		return 0, 0, err
	}
	offset, ts := int64(-1), int64(-1)
	for _, b := range p.batches {
		if b.maxTS > ts {
			offset, ts = b.last, b.maxTS
		}
	}
	return offset, ts, nil
}

func (m *memStorage) DeleteRecords(_ context.Context, tp storage.TopicPartition, before int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.partition(tp)
	if err != nil {
		return 0, err
	}
	if before == -1 {
		before = p.end
	}
	if before > p.end {
		return 0, storage.ErrOffsetOutOfRange
	}
	p.start = max(p.start, before)
	return p.start, nil
}

func (m *memStorage) Watch(tp storage.TopicPartition) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch, ok := m.watches[tp]
	if !ok {
		ch = make(chan struct{})
		m.watches[tp] = ch
	}
	return ch
}

func (m *memStorage) AllocateProducerID(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextPID++
	return m.nextPID, nil
}

// groups.Store

func (m *memStorage) SaveGroup(_ context.Context, cluster string, g groups.GroupRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.groups[cluster+"/"+g.Name].Version != g.Version {
		return groups.ErrGroupFenced
	}
	g.Version++
	m.groups[cluster+"/"+g.Name] = g
	return nil
}

func (m *memStorage) LoadGroups(_ context.Context, cluster string) ([]groups.GroupRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []groups.GroupRecord
	for k, g := range m.groups {
		if len(k) > len(cluster) && k[:len(cluster)+1] == cluster+"/" {
			out = append(out, g)
		}
	}
	return out, nil
}

func (m *memStorage) DeleteGroup(_ context.Context, cluster, group string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.groups, cluster+"/"+group)
	delete(m.offsets, cluster+"/"+group)
	return nil
}

func (m *memStorage) DeleteGroupAt(ctx context.Context, cluster, group string, version int64) error {
	m.mu.Lock()
	stored := m.groups[cluster+"/"+group].Version
	m.mu.Unlock()
	if stored != version {
		return groups.ErrGroupFenced
	}
	return m.DeleteGroup(ctx, cluster, group)
}

func (m *memStorage) CommitOffsetsAt(ctx context.Context, cluster, group string, version int64, offsets []groups.CommittedOffset) error {
	m.mu.Lock()
	stored := m.groups[cluster+"/"+group].Version
	m.mu.Unlock()
	if stored != version {
		return groups.ErrGroupFenced
	}
	return m.CommitOffsets(ctx, cluster, group, offsets)
}

func (m *memStorage) CommitOffsets(_ context.Context, cluster, group string, offsets []groups.CommittedOffset) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := cluster + "/" + group
	if m.offsets[k] == nil {
		m.offsets[k] = make(map[topicPartition]groups.CommittedOffset)
	}
	for _, o := range offsets {
		m.offsets[k][topicPartition{o.Topic, o.Partition}] = o
	}
	return nil
}

func (m *memStorage) FetchOffsets(_ context.Context, cluster, group string, topics []string) ([]groups.CommittedOffset, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []groups.CommittedOffset
	for tp, o := range m.offsets[cluster+"/"+group] {
		if topics == nil || slices.Contains(topics, tp.topic) {
			out = append(out, o)
		}
	}
	return out, nil
}

func (m *memStorage) DeleteOffsets(_ context.Context, cluster, group, topic string, partitions []int32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range partitions {
		delete(m.offsets[cluster+"/"+group], topicPartition{topic, p})
	}
	return nil
}
