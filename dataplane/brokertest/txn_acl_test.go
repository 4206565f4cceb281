package brokertest

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTransactionalIDACLs checks the TRANSACTIONAL_ID authorization of the
// transaction APIs, as Kafka's: WRITE to initialize, produce and end a
// transaction, DESCRIBE (implied by WRITE) to find its coordinator, to
// describe and to list it.
func TestTransactionalIDACLs(t *testing.T) {
	h := startSecuredBroker(t, nil)
	admin := adminAs(t, h, "a-admin")
	createTopic(t, admin, "a-txn", 1, nil)
	createACLs(t, admin,
		aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "a-", pattern: kadm.ACLPatternPrefixed, principal: "User:alice", op: kadm.OpAll},
		aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "a-", pattern: kadm.ACLPatternPrefixed, principal: "User:bob", op: kadm.OpAll},
		aclSpec{resource: kmsg.ACLResourceTypeTransactionalId, name: "alice-", pattern: kadm.ACLPatternPrefixed, principal: "User:alice", op: kadm.OpWrite},
		aclSpec{resource: kmsg.ACLResourceTypeTransactionalId, name: "alice-", pattern: kadm.ACLPatternPrefixed, principal: "User:bob", op: kadm.OpDescribe},
	)
	ctx := testContext(t)

	// alice, with WRITE, runs a transaction.
	p := clientAs(t, h, "alice", kgo.TransactionalID("alice-1"), kgo.DefaultProduceTopic("a-txn"))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("alice's transactional produce: %v", err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("alice's commit: %v", err)
	}

	// Without WRITE: bob may find and describe alice's id, not use it;
	// without any ACL on an id, nothing.
	bob := clientAs(t, h, "bob")
	for _, tc := range []struct {
		who, id string
		want    int16
	}{
		{"bob", "alice-1", kerr.TransactionalIDAuthorizationFailed.Code},
		{"alice", "other-1", kerr.TransactionalIDAuthorizationFailed.Code},
		{"alice", "alice-2", 0},
	} {
		init := kmsg.NewPtrInitProducerIDRequest()
		init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr(tc.id), 60000
		resp := rawRequest[*kmsg.InitProducerIDResponse](t, clientAs(t, h, tc.who), init)
		if resp.ErrorCode != tc.want {
			t.Errorf("InitProducerId of %s as %s: %v, want %v", tc.id, tc.who, codeErr(resp.ErrorCode), codeErr(tc.want))
		}
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.Commit = "alice-1", true
	if resp := rawRequest[*kmsg.EndTxnResponse](t, bob, end); resp.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Errorf("EndTxn of alice's id as bob: %v, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", codeErr(resp.ErrorCode))
	}
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.CoordinatorType, find.CoordinatorKeys = 1, []string{"alice-1", "other-1"}
	found := rawRequest[*kmsg.FindCoordinatorResponse](t, bob, find)
	if c := found.Coordinators; len(c) != 2 || c[0].ErrorCode != 0 || c[1].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Errorf("FindCoordinator as bob: %+v, want alice-1 found and other-1 refused", c)
	}
	describe := kmsg.NewPtrDescribeTransactionsRequest()
	describe.TransactionalIDs = []string{"alice-1", "other-1"}
	described := rawRequest[*kmsg.DescribeTransactionsResponse](t, bob, describe)
	if st := described.TransactionStates; len(st) != 2 || st[0].ErrorCode != 0 || st[0].State != "CompleteCommit" ||
		st[1].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Errorf("DescribeTransactions as bob: %+v", st)
	}
	listed := rawRequest[*kmsg.ListTransactionsResponse](t, clientAs(t, h, "alice"), kmsg.NewPtrListTransactionsRequest())
	var ids []string
	for _, st := range listed.TransactionStates {
		ids = append(ids, st.TransactionalID)
	}
	slices.Sort(ids)
	if want := []string{"alice-1", "alice-2"}; !slices.Equal(ids, want) {
		t.Errorf("ListTransactions as alice: %q, want %q", ids, want)
	}
	if listed := rawRequest[*kmsg.ListTransactionsResponse](t, clientAs(t, h, "a-admin"), kmsg.NewPtrListTransactionsRequest()); len(listed.TransactionStates) != 2 {
		t.Errorf("ListTransactions as the administrator: %+v, want both ids", listed.TransactionStates)
	}
}
