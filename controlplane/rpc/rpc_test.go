package rpc

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/store"
)

func TestMask(t *testing.T) {
	m := Mask{Updatable: []string{"display_name", "description"}, OutputOnly: CommonOutputOnly}
	paths, err := m.Paths(&fieldmaskpb.FieldMask{Paths: []string{"etag", "display_name", "create_time", "display_name"}}, nil)
	if err != nil || len(paths) != 1 || paths[0] != "display_name" {
		t.Fatalf("Paths = %v, %v", paths, err)
	}
	if _, err := m.Paths(&fieldmaskpb.FieldMask{Paths: []string{"owner"}}, nil); apierr.From(err).Code != apierr.InvalidArgument {
		t.Fatalf("unknown path: %v", err)
	}
	implied, _ := m.Paths(nil, func(p string) bool { return p == "description" })
	if len(implied) != 1 || implied[0] != "description" {
		t.Fatalf("implied = %v", implied)
	}
}

func TestStoreErrors(t *testing.T) {
	tests := []struct {
		err  error
		want apierr.Code
	}{
		{store.ErrNotFound, apierr.NotFound},
		{store.ErrEtagMismatch, apierr.EtagMismatch},
		{store.ErrRequestIDReused, apierr.RequestIDReused},
		{store.ErrBadPageToken, apierr.InvalidArgument},
		{fmt.Errorf("%w: environment env-1 holds 2 clusters", store.ErrNotEmpty), apierr.FailedPrecondition},
		{fmt.Errorf("%w: User:sa-1", store.ErrPrincipalHasQuota), apierr.AlreadyExists},
		{errors.New("disk full"), apierr.Internal},
	}
	for _, tt := range tests {
		if got := apierr.From(StoreError(tt.err, "environment", "env-1")).Code; got != tt.want {
			t.Errorf("StoreError(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
	if StoreError(nil, "x", "y") != nil {
		t.Error("StoreError(nil) != nil")
	}
}
