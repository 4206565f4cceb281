package broker

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerTest is a broker with one authenticated raw connection of alice
// (cluster lkc-a) and a topic "t" of 2 partitions holding 3 records in
// partition 0.
type handlerTest struct {
	*testBroker
	rc *rawClient
	id [16]byte // of topic t
}

func newHandlerTest(t *testing.T) *handlerTest {
	t.Helper()
	tb := startTestBroker(t, nil)
	topic, err := tb.store.CreateTopic(t.Context(), "lkc-a", "t", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, tb.addr)
	rc.authenticate("alice", "alice-secret")
	resp := rc.roundTrip(produceRequest("t", 0, testBatch(t, 0, "a", "b", "c"))).(*kmsg.ProduceResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("seed produce: error %d", code)
	}
	return &handlerTest{testBroker: tb, rc: rc, id: topic.ID}
}

func TestMetadataByIDAndVersions(t *testing.T) {
	h := newHandlerTest(t)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.Topics = []kmsg.MetadataRequestTopic{{TopicID: h.id}, {TopicID: [16]byte{1}}}
	req.IncludeTopicAuthorizedOperations = true
	resp := h.rc.roundTrip(req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 2 {
		t.Fatalf("%d topics, want 2", len(resp.Topics))
	}
	if got := resp.Topics[0]; got.ErrorCode != 0 || *got.Topic != "t" || len(got.Partitions) != 2 || got.AuthorizedOperations != topicAuthorizedOps {
		t.Fatalf("by id: %+v", got)
	}
	if got := resp.Topics[1]; got.ErrorCode != kerr.UnknownTopicID.Code || got.Topic != nil {
		t.Fatalf("unknown id: error %d topic %v, want UNKNOWN_TOPIC_ID and a null name", got.ErrorCode, got.Topic)
	}
	p := resp.Topics[0].Partitions[1]
	if p.Leader != 1 || p.LeaderEpoch != 0 || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.ISR, []int32{1}) {
		t.Fatalf("partition %+v", p)
	}

	// v0: an empty list means every topic.
	v0 := kmsg.NewPtrMetadataRequest()
	v0.Topics = []kmsg.MetadataRequestTopic{}
	if resp := h.rc.roundTrip(v0).(*kmsg.MetadataResponse); len(resp.Topics) != 1 {
		t.Fatalf("v0 all topics: %d topics, want 1", len(resp.Topics))
	}
}

func TestProduceRefusals(t *testing.T) {
	h := newHandlerTest(t)
	tx := produceRequest("t", 0, testBatch(t, 0, "x"))
	tx.TransactionID = kmsg.StringPtr("txn-1")
	acks := produceRequest("t", 0, testBatch(t, 0, "x"))
	acks.Acks = 2
	for name, tc := range map[string]struct {
		req  *kmsg.ProduceRequest
		want int16
	}{
		"transactional id": {tx, kerr.InvalidTxnState.Code},
		"acks=2":           {acks, kerr.InvalidRequiredAcks.Code},
		"unknown topic":    {produceRequest("nope", 0, testBatch(t, 0, "x")), kerr.UnknownTopicOrPartition.Code},
		"bad partition":    {produceRequest("t", 2, testBatch(t, 0, "x")), kerr.UnknownTopicOrPartition.Code},
	} {
		p := h.rc.roundTrip(tc.req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if p.ErrorCode != tc.want || p.BaseOffset != -1 {
			t.Errorf("%s: error %d offset %d, want %d and -1", name, p.ErrorCode, p.BaseOffset, tc.want)
		}
	}
}

func TestIdempotentProduce(t *testing.T) {
	h := newHandlerTest(t)
	batch := batchSpec{producerID: 77, epoch: 0, sequence: 0, values: []string{"once"}}.encode()
	first := h.rc.roundTrip(produceRequest("t", 1, batch)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	again := h.rc.roundTrip(produceRequest("t", 1, batch)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if first.ErrorCode != 0 || again.ErrorCode != 0 || again.BaseOffset != first.BaseOffset {
		t.Fatalf("retry of a committed batch: %+v then %+v, want success with the same offset", first, again)
	}
	gap := batchSpec{producerID: 77, epoch: 0, sequence: 5, values: []string{"gap"}}.encode()
	if p := h.rc.roundTrip(produceRequest("t", 1, gap)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap: error %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", p.ErrorCode)
	}
	if _, end, _ := h.store.Offsets(t.Context(), tpOf("lkc-a", "t", 1)); end != 1 {
		t.Fatalf("high watermark %d, want 1 (the duplicate was not stored)", end)
	}
}

func TestFetchRules(t *testing.T) {
	h := newHandlerTest(t)
	// Fill partition 1 too, with a batch larger than the limit below.
	big := strings.Repeat("x", 500)
	h.rc.roundTrip(produceRequest("t", 1, testBatch(t, 0, big)))

	t.Run("incremental session", func(t *testing.T) {
		req := fetchRequest("t", 0, 0)
		req.SessionID, req.SessionEpoch = 12, 3
		if resp := h.rc.roundTrip(req).(*kmsg.FetchResponse); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code || len(resp.Topics) != 0 {
			t.Fatalf("error %d with %d topics, want FETCH_SESSION_ID_NOT_FOUND", resp.ErrorCode, len(resp.Topics))
		}
	})
	t.Run("new session gets none", func(t *testing.T) {
		req := fetchRequest("t", 0, 0)
		req.SessionEpoch = 0
		resp := h.rc.roundTrip(req).(*kmsg.FetchResponse)
		if resp.ErrorCode != 0 || resp.SessionID != 0 || len(resp.Topics[0].Partitions[0].RecordBatches) == 0 {
			t.Fatalf("error %d session %d, want a full response without a session", resp.ErrorCode, resp.SessionID)
		}
	})
	t.Run("response limit lets the first batch through only", func(t *testing.T) {
		req := fetchRequest("t", 1, 0)
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, fetchRequest("t", 0, 0).Topics[0].Partitions...)
		req.MaxBytes = 100
		resp := h.rc.roundTrip(req).(*kmsg.FetchResponse)
		p1, p0 := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]
		if len(p1.RecordBatches) < 500 || len(p0.RecordBatches) != 0 || p0.HighWatermark != 3 {
			t.Fatalf("partition 1 got %d bytes, partition 0 %d bytes (hwm %d): want the oversized first batch alone, and partition 0's offsets",
				len(p1.RecordBatches), len(p0.RecordBatches), p0.HighWatermark)
		}
	})
	t.Run("offset out of range", func(t *testing.T) {
		p := h.rc.roundTrip(fetchRequest("t", 0, 9)).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if p.ErrorCode != kerr.OffsetOutOfRange.Code {
			t.Fatalf("error %d, want OFFSET_OUT_OF_RANGE", p.ErrorCode)
		}
	})
	t.Run("newer leader epoch", func(t *testing.T) {
		req := fetchRequest("t", 0, 0)
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = 4
		if p := h.rc.roundTrip(req).(*kmsg.FetchResponse).Topics[0].Partitions[0]; p.ErrorCode != kerr.UnknownLeaderEpoch.Code {
			t.Fatalf("error %d, want UNKNOWN_LEADER_EPOCH", p.ErrorCode)
		}
	})
	t.Run("topic ids", func(t *testing.T) {
		req := fetchRequest("", 0, 0)
		req.Version = 13
		req.Topics[0].TopicID = h.id
		resp := h.rc.roundTrip(req).(*kmsg.FetchResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.HighWatermark != 3 || resp.Topics[0].TopicID != h.id {
			t.Fatalf("by id: error %d hwm %d", p.ErrorCode, p.HighWatermark)
		}
	})
}

func TestListOffsetsAndLeaderEpochs(t *testing.T) {
	h := newHandlerTest(t)
	list := func(version int16, ts int64) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version, req.ReplicaID = version, -1
		req.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "t", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: ts, CurrentLeaderEpoch: -1}}}}
		return h.rc.roundTrip(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	}
	for _, tc := range []struct {
		name       string
		version    int16
		ts         int64
		wantCode   int16
		wantOffset int64
	}{
		{"latest", 8, -1, 0, 3},
		{"earliest", 8, -2, 0, 0},
		{"max timestamp", 8, -3, 0, 2},
		{"earliest local", 8, -4, 0, 0},
		{"max timestamp before v7", 6, -3, kerr.UnsupportedVersion.Code, -1},
		{"unknown special", 8, -9, kerr.InvalidRequest.Code, -1},
		{"future timestamp", 8, 1 << 50, 0, -1},
		{"old timestamp", 1, 1, 0, 0},
	} {
		if got := list(tc.version, tc.ts); got.ErrorCode != tc.wantCode || got.Offset != tc.wantOffset {
			t.Errorf("%s: error %d offset %d, want %d %d", tc.name, got.ErrorCode, got.Offset, tc.wantCode, tc.wantOffset)
		}
	}

	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version, req.ReplicaID = 4, -1
	req.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{
		{Partition: 0, CurrentLeaderEpoch: -1, LeaderEpoch: 0},
		{Partition: 0, CurrentLeaderEpoch: -1, LeaderEpoch: 3},
		{Partition: 9, CurrentLeaderEpoch: -1, LeaderEpoch: 0},
	}}}
	ps := h.rc.roundTrip(req).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions
	if ps[0].ErrorCode != 0 || ps[0].LeaderEpoch != 0 || ps[0].EndOffset != 3 {
		t.Errorf("epoch 0: %+v, want end offset 3", ps[0])
	}
	if ps[1].ErrorCode != 0 || ps[1].LeaderEpoch != -1 || ps[1].EndOffset != -1 {
		t.Errorf("unknown epoch: %+v, want -1/-1", ps[1])
	}
	if ps[2].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown partition: %+v", ps[2])
	}
}

func TestCoordinatorsAndCluster(t *testing.T) {
	h := newHandlerTest(t)
	v3 := kmsg.NewPtrFindCoordinatorRequest()
	v3.Version, v3.CoordinatorKey = 3, "g"
	if resp := h.rc.roundTrip(v3).(*kmsg.FindCoordinatorResponse); resp.ErrorCode != 0 || resp.NodeID != 1 || resp.Host != "127.0.0.1" {
		t.Fatalf("v3: %+v", resp)
	}
	v4 := kmsg.NewPtrFindCoordinatorRequest()
	v4.Version, v4.CoordinatorType, v4.CoordinatorKeys = 4, coordinatorTransaction, []string{"tx-a", "tx-b"}
	if resp := h.rc.roundTrip(v4).(*kmsg.FindCoordinatorResponse); len(resp.Coordinators) != 2 || resp.Coordinators[1].Key != "tx-b" || resp.Coordinators[1].NodeID != 1 {
		t.Fatalf("v4 batched: %+v", resp.Coordinators)
	}
	bad := kmsg.NewPtrFindCoordinatorRequest()
	bad.Version, bad.CoordinatorType, bad.CoordinatorKeys = 4, 7, []string{"x"}
	if resp := h.rc.roundTrip(bad).(*kmsg.FindCoordinatorResponse); resp.Coordinators[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("unknown key type: %+v", resp.Coordinators)
	}

	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.Version, dc.EndpointType, dc.IncludeClusterAuthorizedOperations = 1, 1, true
	resp := h.rc.roundTrip(dc).(*kmsg.DescribeClusterResponse)
	if resp.ClusterID != "lkc-a" || resp.ControllerID != 1 || len(resp.Brokers) != 1 || resp.ClusterAuthorizedOperations != clusterAuthorizedOps {
		t.Fatalf("describe cluster: %+v", resp)
	}

	txn := kmsg.NewPtrInitProducerIDRequest()
	txn.Version, txn.TransactionalID = 4, kmsg.StringPtr("tx")
	if resp := h.rc.roundTrip(txn).(*kmsg.InitProducerIDResponse); resp.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional InitProducerId: error %d", resp.ErrorCode)
	}
	idem := kmsg.NewPtrInitProducerIDRequest()
	idem.Version = 4
	a := h.rc.roundTrip(idem).(*kmsg.InitProducerIDResponse)
	b := h.rc.roundTrip(idem).(*kmsg.InitProducerIDResponse)
	if a.ErrorCode != 0 || a.ProducerEpoch != 0 || a.ProducerID == b.ProducerID {
		t.Fatalf("idempotent InitProducerId: %+v then %+v, want distinct ids at epoch 0", a, b)
	}
}

func TestTopicAdminRequests(t *testing.T) {
	h := newHandlerTest(t)
	create := kmsg.NewPtrCreateTopicsRequest()
	create.Version = 7
	create.Topics = []kmsg.CreateTopicsRequestTopic{
		{Topic: "dup", NumPartitions: 1, ReplicationFactor: -1},
		{Topic: "dup", NumPartitions: 1, ReplicationFactor: -1},
		{Topic: "assigned", NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignment: []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{1}}}},
		{Topic: "huge", NumPartitions: maxPartitionsPerTopic + 1, ReplicationFactor: -1},
		{Topic: "fine", NumPartitions: -1, ReplicationFactor: 3, Configs: []kmsg.CreateTopicsRequestTopicConfig{{Name: "retention.ms", Value: kmsg.StringPtr("-1")}}},
	}
	topics := h.rc.roundTrip(create).(*kmsg.CreateTopicsResponse).Topics
	for i, want := range []int16{kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidPartitions.Code, 0} {
		if topics[i].ErrorCode != want {
			t.Errorf("create %s: error %d (%v), want %d", topics[i].Topic, topics[i].ErrorCode, topics[i].ErrorMessage, want)
		}
	}
	fine := topics[4]
	if fine.NumPartitions != 1 || fine.TopicID == ([16]byte{}) || len(fine.Configs) != len(topicConfigs) {
		t.Fatalf("created topic answer: %+v", fine)
	}

	// Delete by id (v6).
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version = 6
	del.Topics = []kmsg.DeleteTopicsRequestTopic{{TopicID: fine.TopicID}, {TopicID: [16]byte{9}}, {Topic: kmsg.StringPtr("t"), TopicID: h.id}}
	dt := h.rc.roundTrip(del).(*kmsg.DeleteTopicsResponse).Topics
	if dt[0].ErrorCode != 0 || *dt[0].Topic != "fine" || dt[1].ErrorCode != kerr.UnknownTopicID.Code || dt[2].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("delete by id: %+v", dt)
	}

	// Incremental: subtract from a list, and refuse list ops on scalars.
	inc := kmsg.NewPtrIncrementalAlterConfigsRequest()
	inc.Version = 1
	inc.Resources = []kmsg.IncrementalAlterConfigsRequestResource{
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "t", Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			{Name: "cleanup.policy", Op: kmsg.IncrementalAlterConfigOpSubtract, Value: kmsg.StringPtr("delete")},
		}},
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "t", Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			{Name: "retention.ms", Op: kmsg.IncrementalAlterConfigOpAppend, Value: kmsg.StringPtr("1")},
		}},
	}
	rs := h.rc.roundTrip(inc).(*kmsg.IncrementalAlterConfigsResponse).Resources
	if rs[0].ErrorCode != kerr.InvalidConfig.Code || rs[1].ErrorCode != kerr.InvalidConfig.Code {
		t.Fatalf("subtracting the only cleanup policy / appending to a long: %+v", rs)
	}

	// DescribeConfigs with synonyms and documentation, names filtered.
	if err := h.store.UpdateConfigs(t.Context(), "lkc-a", "t", map[string]string{"retention.ms": "5000"}, nil); err != nil {
		t.Fatal(err)
	}
	dcr := kmsg.NewPtrDescribeConfigsRequest()
	dcr.Version, dcr.IncludeSynonyms, dcr.IncludeDocumentation = 4, true, true
	dcr.Resources = []kmsg.DescribeConfigsRequestResource{
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "t", ConfigNames: []string{"retention.ms", "segment.ms"}},
		{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "2"},
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "gone"},
	}
	res := h.rc.roundTrip(dcr).(*kmsg.DescribeConfigsResponse).Resources
	cfgs := res[0].Configs
	if len(cfgs) != 2 || cfgs[0].Name != "retention.ms" || *cfgs[0].Value != "5000" || cfgs[0].Source != kmsg.ConfigSourceDynamicTopicConfig ||
		len(cfgs[0].ConfigSynonyms) != 2 || cfgs[0].ConfigSynonyms[1].Name != "log.retention.ms" || cfgs[0].Documentation == nil ||
		cfgs[0].ConfigType != kmsg.ConfigTypeLong || cfgs[1].Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("describe topic configs: %+v", cfgs)
	}
	if res[1].ErrorCode != kerr.InvalidRequest.Code || res[2].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("other broker / unknown topic: %d %d", res[1].ErrorCode, res[2].ErrorCode)
	}

	// CreatePartitions refuses assignments and shrinking.
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.Version = 3
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "t", Count: 1}}
	if got := h.rc.roundTrip(cp).(*kmsg.CreatePartitionsResponse).Topics[0]; got.ErrorCode != kerr.InvalidPartitions.Code {
		t.Fatalf("shrink: %+v", got)
	}
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "t", Count: 4, Assignment: []kmsg.CreatePartitionsRequestTopicAssignment{{Replicas: []int32{1}}}}}
	if got := h.rc.roundTrip(cp).(*kmsg.CreatePartitionsResponse).Topics[0]; got.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("assignment: %+v", got)
	}
}

func TestOffsetCommitUnknownTopics(t *testing.T) {
	h := newHandlerTest(t)
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = 8, "g", -1
	req.Topics = []kmsg.OffsetCommitRequestTopic{
		{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 2}, {Partition: 5, Offset: 1}}},
		{Topic: "ghost", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}},
	}
	resp := h.rc.roundTrip(req).(*kmsg.OffsetCommitResponse)
	got := [][]int16{{resp.Topics[0].Partitions[0].ErrorCode, resp.Topics[0].Partitions[1].ErrorCode}, {resp.Topics[1].Partitions[0].ErrorCode}}
	unknown := kerr.UnknownTopicOrPartition.Code
	if !slices.Equal(got[0], []int16{0, unknown}) || !slices.Equal(got[1], []int16{unknown}) {
		t.Fatalf("codes %v, want [[0 %d] [%d]]", got, unknown, unknown)
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version, fetch.Group = 7, "g"
	fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}}
	fr := h.rc.roundTrip(fetch).(*kmsg.OffsetFetchResponse)
	if p := fr.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.Offset != 2 {
		t.Fatalf("committed offset %+v, want 2", p)
	}
}

func TestConfigValidation(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name, key string
		value     *string
		ok        bool
	}{
		{"retention forever", "retention.ms", s("-1"), true},
		{"retention below -1", "retention.ms", s("-2"), false},
		{"retention not a number", "retention.ms", s("1h"), false},
		{"compact", "cleanup.policy", s("compact"), true},
		{"both", "cleanup.policy", s("delete, compact"), true},
		{"empty policy", "cleanup.policy", s(""), false},
		{"repeated policy", "cleanup.policy", s("delete,delete"), false},
		{"unknown policy", "cleanup.policy", s("archive"), false},
		{"log append time", "message.timestamp.type", s("LogAppendTime"), true},
		{"bad timestamp type", "message.timestamp.type", s("Whenever"), false},
		{"int overflow", "max.message.bytes", s("4294967296"), false},
		{"ratio", "min.cleanable.dirty.ratio", s("0.9"), true},
		{"ratio above one", "min.cleanable.dirty.ratio", s("1.5"), false},
		{"ratio NaN", "min.cleanable.dirty.ratio", s("NaN"), false},
		{"boolean", "preallocate", s("TRUE"), true},
		{"not boolean", "preallocate", s("yes"), false},
		{"codec", "compression.type", s("zstd"), true},
		{"bad codec", "compression.type", s("brotli"), false},
		{"min isr zero", "min.insync.replicas", s("0"), false},
		{"null", "retention.ms", nil, false},
		{"unknown key", "retention.hours", s("1"), false},
	}
	for _, tt := range tests {
		err := validateTopicConfig(tt.key, tt.value)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %s=%v: error %v, want ok=%v", tt.name, tt.key, tt.value, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%s: message %q does not name %s", tt.name, err, tt.key)
		}
	}
}

func TestTopicNameRules(t *testing.T) {
	for name, ok := range map[string]bool{
		"orders":                    true,
		"a.b_c-D9":                  true,
		strings.Repeat("x", 249):    true,
		strings.Repeat("x", 250):    false,
		"":                          false,
		".":                         false,
		"..":                        false,
		"...":                       true,
		"with space":                false,
		"slash/y":                   false,
		"uni\u00e9":                 false,
		"nul\x00":                   false,
		"__consumer_offsets-looked": true,
	} {
		if err := validateTopicName(name); (err == nil) != ok {
			t.Errorf("%q: error %v, want ok=%v", name, err, ok)
		}
	}
}
