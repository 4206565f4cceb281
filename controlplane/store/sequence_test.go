package store

import (
	"context"
	"testing"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// TestWriteSequenceIsShared: every write transaction of any process on
// the database moves the write sequence, and BrokerState names the
// sequence its rows are read at — what orders the brokers' snapshots of
// two control-plane replicas.
func TestWriteSequenceIsShared(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store, url string) {
		ctx := context.Background()
		other, err := Open(ctx, url) // a second replica
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		before, err := s.WriteSequence(ctx)
		if err != nil {
			t.Fatal(err)
		}
		org := newOrg(t, s)
		newEnv(t, other, org, "prod")
		for _, st := range []*Store{s, other} {
			got, err := st.WriteSequence(ctx)
			if err != nil || got != before+2 {
				t.Errorf("write sequence %d (%v) after two writes from two processes, want %d", got, err, before+2)
			}
		}
		// A failed write moves nothing.
		dup := resource.Organization{Meta: resource.Meta{ID: org, OrgID: org}, DisplayName: "again"}
		if _, err := other.Organizations().Create(ctx, dup, RequestKey{}); err == nil {
			t.Fatal("duplicate organization created")
		}
		state, err := other.BrokerState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if state.Sequence != before+2 {
			t.Errorf("broker state read at sequence %d, want %d", state.Sequence, before+2)
		}
	})
}
