package brokertest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/affluent-io/affluent/internal/testutil"
)

// Names of tenant B (cluster lkc-b). Tenant A sends the "secret" ones in
// its requests; the "hidden" ones it never sends, so no answer to A may
// hold them.
const (
	bTopic       = "b-secret-topic"
	bGroup       = "b-secret-group"
	bTxn         = "b-secret-txn"
	bHiddenTopic = "b-hidden-topic" // A names it only by its id
	bHiddenGroup = "b-hidden-group"
	bHiddenTxn   = "b-hidden-txn"
	bHiddenACL   = "b-hidden-acl-topic"
	bHiddenUser  = "b-hidden-quota-user"
	bRecord      = "b-hidden-record"
)

// tenantB is what tenant B made, and how to check it is all still there.
type tenantB struct {
	hiddenTopicID [16]byte
}

func setUpTenantB(t *testing.T, h *testutil.BrokerHandle) tenantB {
	t.Helper()
	adm := adminAs(t, h, "b-admin")
	retention := "12345"
	createTopic(t, adm, bTopic, 2, map[string]*string{"retention.ms": &retention})
	createTopic(t, adm, bHiddenTopic, 1, nil)
	cl := clientAs(t, h, "b-admin")
	for range 3 {
		if err := cl.ProduceSync(testContext(t), &kgo.Record{Topic: bTopic, Value: []byte(bRecord)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []string{bGroup, bHiddenGroup} {
		commitRaw(t, cl, g, bTopic, 0, 2)
	}
	// A transaction of B's, left ongoing, which A must never list.
	txn := clientAs(t, h, "b-admin", kgo.TransactionalID(bHiddenTxn))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(testContext(t), &kgo.Record{Topic: bHiddenTopic, Value: []byte(bRecord)}).FirstErr(); err != nil {
		t.Fatalf("B's transactional produce: %v", err)
	}
	createACLs(t, adm, aclSpec{resource: kmsg.ACLResourceTypeTopic, name: bHiddenACL, pattern: kadm.ACLPatternLiteral, principal: "User:b-dev", op: kadm.OpRead})
	res, err := adm.AlterClientQuotas(testContext(t), []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "user", Name: ptr(bHiddenUser)}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 4096}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("B's quota: %v %+v", err, res)
	}
	topics, err := adm.ListTopics(testContext(t), bHiddenTopic)
	if err != nil {
		t.Fatal(err)
	}
	return tenantB{hiddenTopicID: topics[bHiddenTopic].ID}
}

func commitRaw(t *testing.T, cl *kgo.Client, group, topic string, partition int32, offset int64) {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rawRequest[*kmsg.OffsetCommitResponse](t, cl, req)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("commit %s: %v", group, kerr.ErrorForCode(code))
	}
}

// check verifies, as B, that everything of B is as it was.
func (b tenantB) check(t *testing.T, h *testutil.BrokerHandle) {
	t.Helper()
	adm := adminAs(t, h, "b-admin")
	ctx := testContext(t)
	topics, err := adm.ListTopics(ctx)
	if err != nil || !slices.Equal(topics.Names(), []string{bHiddenTopic, bTopic}) || len(topics[bTopic].Partitions) != 2 {
		t.Fatalf("B's topics changed: %v %v", topics.Names(), err)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, bTopic)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := cfgs.On(bTopic, nil); v.Err != nil || !slices.ContainsFunc(v.Configs, func(c kadm.Config) bool { return c.Key == "retention.ms" && c.MaybeValue() == "12345" }) {
		t.Fatalf("B's topic configs changed: %+v", v)
	}
	ends, err := adm.ListEndOffsets(ctx, bTopic)
	if err != nil {
		t.Fatal(err)
	}
	var records int64
	ends.Each(func(o kadm.ListedOffset) { records += o.Offset })
	starts, _ := adm.ListStartOffsets(ctx, bTopic)
	starts.Each(func(o kadm.ListedOffset) { records -= o.Offset })
	if records != 3 {
		t.Fatalf("B's topic holds %d records, want 3", records)
	}
	for _, g := range []string{bGroup, bHiddenGroup} {
		offs, err := adm.FetchOffsets(ctx, g)
		if o, ok := offs.Lookup(bTopic, 0); err != nil || !ok || o.At != 2 {
			t.Fatalf("B's group %s offsets changed: %+v %v", g, offs, err)
		}
	}
	acls, err := describeACLs(t, adm, anyACL())
	if err != nil || len(acls) != 1 || !strings.Contains(acls[0], bHiddenACL) {
		t.Fatalf("B's ACLs changed: %v %v", acls, err)
	}
	quotas, err := adm.DescribeClientQuotas(ctx, false, nil)
	if err != nil || len(quotas) != 1 || *quotas[0].Entity[0].Name != bHiddenUser {
		t.Fatalf("B's quotas changed: %v %v", quotaLines(quotas), err)
	}
}

// isolationCase is one request of tenant A naming B's things.
type isolationCase struct {
	name string
	old  bool // send with Kafka 3.0's versions (topics by name)
	req  func() kmsg.Request
	// asDeveloper is the one error code (besides 0 where the answer has
	// parts without one) the developer of A must get; -1: none expected
	// (listings, checked by look).
	asDeveloper int16
	// asAdmin, when not -1, is the code A's administrator must get: the
	// name is unknown in A's cluster.
	asAdmin int16
}

func isolationCases(b tenantB) []isolationCase {
	topicAuth, groupAuth, txnAuth, clusterAuth := kerr.TopicAuthorizationFailed.Code, kerr.GroupAuthorizationFailed.Code,
		kerr.TransactionalIDAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Code
	unknownTopic, unknownID := kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicID.Code
	produce := func(txn *string) func() kmsg.Request {
		return func() kmsg.Request {
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis, req.TransactionID = -1, 5000, txn
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = bTopic
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = rawBatch("from-a")
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}
	}
	fetch := func(byID bool) func() kmsg.Request {
		return func() kmsg.Request {
			req := kmsg.NewPtrFetchRequest()
			req.MaxWaitMillis, req.MaxBytes = 10, 1<<20
			rt := kmsg.NewFetchRequestTopic()
			if byID {
				rt.TopicID = b.hiddenTopicID
			} else {
				rt.Topic = bTopic
			}
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes = 1 << 20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}
	}
	metadata := func(name *string, id [16]byte) func() kmsg.Request {
		return func() kmsg.Request {
			req := kmsg.NewPtrMetadataRequest()
			req.IncludeTopicAuthorizedOperations, req.IncludeClusterAuthorizedOperations = true, true
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic, rt.TopicID = name, id
			req.Topics = append(req.Topics, rt)
			return req
		}
	}
	return []isolationCase{
		{name: "Produce", req: produce(nil), asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "Produce transactional", req: produce(kmsg.StringPtr(bTxn)), asDeveloper: txnAuth, asAdmin: -1},
		{name: "Fetch by name", old: true, req: fetch(false), asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "Fetch by id", req: fetch(true), asDeveloper: unknownID, asAdmin: unknownID},
		{name: "ListOffsets", req: func() kmsg.Request {
			req := kmsg.NewPtrListOffsetsRequest()
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = bTopic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Timestamp = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}, asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "Metadata by name", req: metadata(kmsg.StringPtr(bTopic), [16]byte{}), asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "Metadata by id", req: metadata(nil, b.hiddenTopicID), asDeveloper: unknownID, asAdmin: unknownID},
		{name: "Metadata all topics", req: func() kmsg.Request {
			req := kmsg.NewPtrMetadataRequest()
			req.Topics = nil
			return req
		}, asDeveloper: -1, asAdmin: -1},
		{name: "OffsetCommit", req: func() kmsg.Request {
			req := kmsg.NewPtrOffsetCommitRequest()
			req.Group, req.Generation = bGroup, -1
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = bTopic
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Offset = 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}, asDeveloper: groupAuth, asAdmin: unknownTopic},
		{name: "OffsetFetch", req: func() kmsg.Request {
			req := kmsg.NewPtrOffsetFetchRequest()
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = bGroup
			t := kmsg.NewOffsetFetchRequestGroupTopic()
			t.Topic, t.Partitions = bTopic, []int32{0}
			g.Topics = append(g.Topics, t)
			req.Groups = append(req.Groups, g)
			return req
		}, asDeveloper: groupAuth, asAdmin: -1},
		{name: "OffsetFetch all topics", req: func() kmsg.Request {
			req := kmsg.NewPtrOffsetFetchRequest()
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = bGroup
			req.Groups = append(req.Groups, g)
			return req
		}, asDeveloper: groupAuth, asAdmin: -1},
		{name: "FindCoordinator group", req: func() kmsg.Request {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorKeys = []string{bGroup}
			return req
		}, asDeveloper: groupAuth, asAdmin: -1},
		{name: "FindCoordinator transaction", req: func() kmsg.Request {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorType, req.CoordinatorKeys = 1, []string{bTxn}
			return req
		}, asDeveloper: txnAuth, asAdmin: -1},
		{name: "JoinGroup", req: func() kmsg.Request {
			req := kmsg.NewPtrJoinGroupRequest()
			req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = bGroup, "consumer", 10000, 10000
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			req.Protocols = append(req.Protocols, p)
			return req
		}, asDeveloper: groupAuth, asAdmin: -1},
		{name: "SyncGroup", req: func() kmsg.Request {
			req := kmsg.NewPtrSyncGroupRequest()
			req.Group, req.MemberID, req.Generation = bGroup, "m", 1
			return req
		}, asDeveloper: groupAuth, asAdmin: -1},
		{name: "Heartbeat", req: func() kmsg.Request {
			req := kmsg.NewPtrHeartbeatRequest()
			req.Group, req.MemberID, req.Generation = bGroup, "m", 1
			return req
		}, asDeveloper: groupAuth, asAdmin: -1},
		{name: "LeaveGroup", req: func() kmsg.Request {
			req := kmsg.NewPtrLeaveGroupRequest()
			req.Group = bGroup
			m := kmsg.NewLeaveGroupRequestMember()
			m.MemberID = "m"
			req.Members = append(req.Members, m)
			return req
		}, asDeveloper: groupAuth, asAdmin: -1},
		{name: "DescribeGroups", req: func() kmsg.Request {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.Groups, req.IncludeAuthorizedOperations = []string{bGroup}, true
			return req
		}, asDeveloper: groupAuth, asAdmin: -1},
		{name: "ListGroups", req: func() kmsg.Request { return kmsg.NewPtrListGroupsRequest() }, asDeveloper: -1, asAdmin: -1},
		{name: "ConsumerGroupHeartbeat", req: func() kmsg.Request {
			req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
			req.Group, req.MemberID, req.MemberEpoch, req.RebalanceTimeoutMillis = bGroup, "m-isolation", 0, 10000
			req.SubscribedTopicNames, req.Topics = []string{bTopic}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
			return req
		}, asDeveloper: groupAuth, asAdmin: -1}, // JoinGroup made a classic group of the name in A
		{name: "ConsumerGroupDescribe", req: func() kmsg.Request {
			req := kmsg.NewPtrConsumerGroupDescribeRequest()
			req.Groups, req.IncludeAuthorizedOperations = []string{bGroup}, true
			return req
		}, asDeveloper: groupAuth, asAdmin: -1},
		{name: "CreateTopics", req: func() kmsg.Request {
			req := kmsg.NewPtrCreateTopicsRequest()
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = bTopic, 1, -1
			req.Topics, req.ValidateOnly = append(req.Topics, rt), true
			return req
		}, asDeveloper: topicAuth, asAdmin: 0}, // in A's own namespace
		{name: "DeleteTopics by name", req: func() kmsg.Request {
			req := kmsg.NewPtrDeleteTopicsRequest()
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = kmsg.StringPtr(bTopic)
			req.Topics, req.TopicNames = append(req.Topics, rt), []string{bTopic}
			return req
		}, asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "DeleteTopics by id", req: func() kmsg.Request {
			req := kmsg.NewPtrDeleteTopicsRequest()
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.TopicID = b.hiddenTopicID
			req.Topics = append(req.Topics, rt)
			return req
		}, asDeveloper: unknownID, asAdmin: unknownID},
		{name: "DeleteRecords", req: func() kmsg.Request {
			req := kmsg.NewPtrDeleteRecordsRequest()
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = bTopic
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Offset = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}, asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "InitProducerId transactional", req: func() kmsg.Request {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(bTxn), 60000
			return req
		}, asDeveloper: txnAuth, asAdmin: 0}, // A's own transactional id of that name
		{name: "AddPartitionsToTxn", req: func() kmsg.Request {
			req := kmsg.NewPtrAddPartitionsToTxnRequest()
			req.TransactionalID = bTxn
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic, rt.Partitions = bTopic, []int32{0}
			req.Topics = append(req.Topics, rt)
			return req
		}, asDeveloper: txnAuth, asAdmin: unknownTopic},
		{name: "AddOffsetsToTxn", req: func() kmsg.Request {
			req := kmsg.NewPtrAddOffsetsToTxnRequest()
			req.TransactionalID, req.Group = bTxn, bGroup
			return req
		}, asDeveloper: txnAuth, asAdmin: -1},
		{name: "EndTxn", req: func() kmsg.Request {
			req := kmsg.NewPtrEndTxnRequest()
			req.TransactionalID, req.Commit = bTxn, true
			return req
		}, asDeveloper: txnAuth, asAdmin: -1},
		{name: "DescribeProducers", req: func() kmsg.Request {
			req := kmsg.NewPtrDescribeProducersRequest()
			rt := kmsg.NewDescribeProducersRequestTopic()
			rt.Topic, rt.Partitions = bTopic, []int32{0}
			req.Topics = append(req.Topics, rt)
			return req
		}, asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "DescribeTransactions", req: func() kmsg.Request {
			req := kmsg.NewPtrDescribeTransactionsRequest()
			req.TransactionalIDs = []string{bTxn + "-never-initialized"}
			return req
		}, asDeveloper: txnAuth, asAdmin: kerr.TransactionalIDNotFound.Code},
		{name: "ListTransactions", req: func() kmsg.Request {
			return kmsg.NewPtrListTransactionsRequest()
		}, asDeveloper: -1, asAdmin: -1},
		{name: "TxnOffsetCommit", req: func() kmsg.Request {
			req := kmsg.NewPtrTxnOffsetCommitRequest()
			req.TransactionalID, req.Group, req.Generation = bTxn, bGroup, -1
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = bTopic
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}, asDeveloper: txnAuth, asAdmin: -1},
		{name: "OffsetForLeaderEpoch", req: func() kmsg.Request {
			req := kmsg.NewPtrOffsetForLeaderEpochRequest()
			req.ReplicaID = -1
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = bTopic
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.CurrentLeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}, asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "DescribeAcls", req: func() kmsg.Request {
			req := kmsg.NewPtrDescribeACLsRequest()
			req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return req
		}, asDeveloper: clusterAuth, asAdmin: 0},
		{name: "CreateAcls", req: func() kmsg.Request {
			req := kmsg.NewPtrCreateACLsRequest()
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, bTopic, kmsg.ACLResourcePatternTypeLiteral
			c.Principal, c.Host, c.Operation, c.PermissionType = "User:alice", "*", kmsg.ACLOperationAll, kmsg.ACLPermissionTypeAllow
			req.Creations = append(req.Creations, c)
			return req
		}, asDeveloper: clusterAuth, asAdmin: -1},
		{name: "DeleteAcls", req: func() kmsg.Request {
			req := kmsg.NewPtrDeleteACLsRequest()
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			req.Filters = append(req.Filters, f)
			return req
		}, asDeveloper: clusterAuth, asAdmin: 0},
		{name: "DescribeConfigs topic", req: func() kmsg.Request {
			req := kmsg.NewPtrDescribeConfigsRequest()
			r := kmsg.NewDescribeConfigsRequestResource()
			r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, bTopic
			req.Resources = append(req.Resources, r)
			return req
		}, asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "DescribeConfigs broker", req: func() kmsg.Request {
			req := kmsg.NewPtrDescribeConfigsRequest()
			r := kmsg.NewDescribeConfigsRequestResource()
			r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
			req.Resources = append(req.Resources, r)
			return req
		}, asDeveloper: clusterAuth, asAdmin: 0},
		{name: "AlterConfigs", req: func() kmsg.Request {
			req := kmsg.NewPtrAlterConfigsRequest()
			r := kmsg.NewAlterConfigsRequestResource()
			r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, bTopic
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name, c.Value = "retention.ms", kmsg.StringPtr("1")
			r.Configs = append(r.Configs, c)
			req.Resources = append(req.Resources, r)
			return req
		}, asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "IncrementalAlterConfigs", req: func() kmsg.Request {
			req := kmsg.NewPtrIncrementalAlterConfigsRequest()
			r := kmsg.NewIncrementalAlterConfigsRequestResource()
			r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, bTopic
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Value = "retention.ms", kmsg.StringPtr("1")
			r.Configs = append(r.Configs, c)
			req.Resources = append(req.Resources, r)
			return req
		}, asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "CreatePartitions", req: func() kmsg.Request {
			req := kmsg.NewPtrCreatePartitionsRequest()
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = bTopic, 5
			req.Topics = append(req.Topics, rt)
			return req
		}, asDeveloper: topicAuth, asAdmin: unknownTopic},
		{name: "DeleteGroups", req: func() kmsg.Request {
			req := kmsg.NewPtrDeleteGroupsRequest()
			req.Groups = []string{bGroup}
			return req
		}, asDeveloper: groupAuth, asAdmin: -1}, // JoinGroup made one in A
		{name: "OffsetDelete", req: func() kmsg.Request {
			req := kmsg.NewPtrOffsetDeleteRequest()
			req.Group = bGroup
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = bTopic
			rp := kmsg.NewOffsetDeleteRequestTopicPartition()
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}, asDeveloper: groupAuth, asAdmin: -1},
		{name: "DescribeClientQuotas", req: func() kmsg.Request {
			req := kmsg.NewPtrDescribeClientQuotasRequest()
			return req
		}, asDeveloper: clusterAuth, asAdmin: 0},
		{name: "AlterClientQuotas", req: func() kmsg.Request {
			req := kmsg.NewPtrAlterClientQuotasRequest()
			e := kmsg.NewAlterClientQuotasRequestEntry()
			ee := kmsg.NewAlterClientQuotasRequestEntryEntity()
			ee.Type, ee.Name = "user", kmsg.StringPtr("b-dev")
			op := kmsg.NewAlterClientQuotasRequestEntryOp()
			op.Key, op.Value = "producer_byte_rate", 1
			e.Entity, e.Ops = append(e.Entity, ee), append(e.Ops, op)
			req.Entries, req.ValidateOnly = append(req.Entries, e), true
			return req
		}, asDeveloper: clusterAuth, asAdmin: 0},
		{name: "DescribeUserScramCredentials", req: func() kmsg.Request {
			req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
			u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
			u.Name = "b-dev"
			req.Users = append(req.Users, u)
			return req
		}, asDeveloper: clusterAuth, asAdmin: -1},
		{name: "AlterUserScramCredentials", req: func() kmsg.Request {
			req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
			d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
			d.Name, d.Mechanism = "b-dev", 1
			req.Deletions = append(req.Deletions, d)
			return req
		}, asDeveloper: clusterAuth, asAdmin: -1},
		{name: "DescribeCluster", req: func() kmsg.Request {
			req := kmsg.NewPtrDescribeClusterRequest()
			req.IncludeClusterAuthorizedOperations = true
			return req
		}, asDeveloper: 0, asAdmin: 0},
	}
}

// errorCodes collects every error code of a response, by field name.
func errorCodes(v any) map[int16]bool {
	raw, _ := json.Marshal(v)
	var doc any
	_ = json.Unmarshal(raw, &doc)
	codes := map[int16]bool{}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, v := range x {
				if n, ok := v.(float64); ok && strings.HasSuffix(k, "ErrorCode") {
					codes[int16(n)] = true
				}
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(doc)
	return codes
}

// TestTenantIsolation sends every Kafka API a client can send, from
// cluster lkc-a, with the names and topic ids of cluster lkc-b: a developer
// of A (all rights on A's own a-* names) gets authorization errors, A's
// administrator unknown-resource errors or answers about A's own
// namespace; no answer holds anything of B's A did not send itself, and B
// finds all its topics, records, configs, groups, offsets, ACLs and quotas
// as they were.
func TestTenantIsolation(t *testing.T) {
	h := startSecuredBroker(t, nil)
	b := setUpTenantB(t, h)
	aAdmin := adminAs(t, h, "a-admin")
	for _, rt := range []kmsg.ACLResourceType{kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeTransactionalId} {
		createACLs(t, aAdmin, aclSpec{resource: rt, name: "a-", pattern: kadm.ACLPatternPrefixed, principal: "User:alice", op: kadm.OpAll})
	}
	createTopic(t, aAdmin, "a-orders", 1, nil)

	cases := isolationCases(b)
	// Every API the broker offers must be among the cases (but those of
	// the SASL handshake, which name nothing).
	covered := map[int16]bool{kmsg.ApiVersions.Int16(): true, kmsg.SASLHandshake.Int16(): true, kmsg.SASLAuthenticate.Int16(): true}
	for _, c := range cases {
		covered[c.req().Key()] = true
	}
	versions, err := aAdmin.ApiVersions(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	versions.Each(func(v kadm.BrokerApiVersions) {
		v.EachKeySorted(func(key, _, _ int16) {
			if !covered[key] {
				t.Errorf("API %d (%s) is offered but not in the isolation cases", key, kmsg.NameForKey(key))
			}
		})
	})

	leaks := []string{"b-hidden", "lkc-b"}
	for _, who := range []string{"alice", "a-admin"} {
		latest := clientAs(t, h, who, kgo.RequestRetries(0))
		old := clientAs(t, h, who, kgo.RequestRetries(0), kgo.MaxVersions(kversion.V3_0_0()))
		for _, c := range cases {
			t.Run(who+"/"+c.name, func(t *testing.T) {
				cl := latest
				if c.old {
					cl = old
				}
				resp := rawRequest[kmsg.Response](t, cl, c.req())
				raw, _ := json.Marshal(resp)
				for _, l := range leaks {
					if strings.Contains(string(raw), l) {
						t.Fatalf("answer holds %q: %s", l, raw)
					}
				}
				codes := errorCodes(resp)
				delete(codes, 0)
				want := c.asDeveloper
				if who == "a-admin" {
					want = c.asAdmin
				}
				if want > 0 && (len(codes) != 1 || !codes[want]) {
					t.Fatalf("codes %v, want only %v: %s", codes, kerr.ErrorForCode(want), raw)
				}
				if want == 0 && len(codes) != 0 {
					t.Fatalf("codes %v, want none: %s", codes, raw)
				}
				checkListing(t, who, resp)
			})
		}
	}
	b.check(t, h)
}

// checkListing checks what listings and descriptions show A.
func checkListing(t *testing.T, who string, resp kmsg.Response) {
	t.Helper()
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		if *r.ClusterID != "lkc-a" {
			t.Fatalf("metadata of cluster %s", *r.ClusterID)
		}
		for _, tp := range r.Topics {
			if tp.Topic != nil && *tp.Topic != bTopic && *tp.Topic != "a-orders" && *tp.Topic != "" {
				t.Fatalf("metadata shows topic %s", *tp.Topic)
			}
		}
	case *kmsg.ListGroupsResponse:
		// A's administrator may have made groups of B's names in A (by
		// JoinGroup); B's hidden group is checked as a leak.
		for _, g := range r.Groups {
			if who == "alice" && !strings.HasPrefix(g.Group, "a-") {
				t.Fatalf("lists group %s", g.Group)
			}
		}
	case *kmsg.ListTransactionsResponse:
		for _, st := range r.TransactionStates {
			if who == "alice" && !strings.HasPrefix(st.TransactionalID, "a-") {
				t.Fatalf("lists transactional id %s", st.TransactionalID)
			}
		}
	case *kmsg.DescribeACLsResponse:
		for _, res := range r.Resources {
			if strings.HasPrefix(res.ResourceName, "b-") {
				t.Fatalf("describes ACL on %s", res.ResourceName)
			}
		}
	case *kmsg.DescribeGroupsResponse:
		if g := r.Groups[0]; len(g.Members) != 0 || (g.State != "Dead" && g.State != "" && g.State != "Empty") {
			t.Fatalf("describes group %+v", g)
		}
	case *kmsg.ConsumerGroupDescribeResponse:
		for _, g := range r.Groups {
			if who == "alice" && len(g.Members) != 0 {
				t.Fatalf("describes consumer group %s with %d members", g.Group, len(g.Members))
			}
			for _, m := range g.Members {
				if m.MemberID != "m-isolation" {
					t.Fatalf("describes member %s of consumer group %s", m.MemberID, g.Group)
				}
			}
		}
	case *kmsg.OffsetFetchResponse:
		for _, g := range r.Groups {
			for _, tp := range g.Topics {
				for _, p := range tp.Partitions {
					if p.Offset != -1 {
						t.Fatalf("fetched offset %d of %s/%d", p.Offset, tp.Topic, p.Partition)
					}
				}
			}
		}
	case *kmsg.DescribeClientQuotasResponse:
		if len(r.Entries) != 0 {
			t.Fatalf("describes quotas %+v", r.Entries)
		}
	case *kmsg.DescribeClusterResponse:
		if r.ClusterID != "lkc-a" || (who == "alice" && r.ClusterAuthorizedOperations != 0) {
			t.Fatalf("describe cluster: %s, operations %b", r.ClusterID, r.ClusterAuthorizedOperations)
		}
	case *kmsg.FetchResponse:
		for _, tp := range r.Topics {
			for _, p := range tp.Partitions {
				if len(p.RecordBatches) != 0 {
					t.Fatalf("fetched %d bytes of %s", len(p.RecordBatches), tp.Topic)
				}
			}
		}
	}
}
