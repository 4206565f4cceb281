package apierr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestCatalogueCodesAreUniqueAndComplete(t *testing.T) {
	seen := map[Code]bool{}
	for _, d := range Catalogue() {
		if seen[d.Code] {
			t.Errorf("code %s defined twice", d.Code)
		}
		seen[d.Code] = true
		if d.HTTP < 400 || d.HTTP > 599 || d.Description == "" || d.GRPC == codes.OK {
			t.Errorf("incomplete definition %+v", d)
		}
	}
}

func TestStatusRoundTrip(t *testing.T) {
	err := New(EtagMismatch, "environment %q changed", "env-1")
	st, ok := status.FromError(err)
	if !ok {
		t.Fatal("status.FromError does not see the GRPCStatus method")
	}
	if st.Code() != codes.Aborted {
		t.Fatalf("grpc code = %v, want Aborted", st.Code())
	}
	back := From(st.Err())
	if back.Code != EtagMismatch || back.Message != `environment "env-1" changed` {
		t.Fatalf("round trip = %+v", back)
	}
}

func TestFromHidesUnknownErrors(t *testing.T) {
	err := From(errors.New("pq: password authentication failed for user x"))
	if err.Code != Internal || err.Message != "internal error" {
		t.Fatalf("From(unknown) = %+v, want INTERNAL with a generic message", err)
	}
	if From(context.Canceled).Code != Canceled {
		t.Fatal("context.Canceled not mapped to CANCELED")
	}
	if From(fmt.Errorf("get: %w", New(NotFound, "x"))).Code != NotFound {
		t.Fatal("wrapped *Error not found by From")
	}
	if FromStatus(status.New(codes.InvalidArgument, "bad json")).Code != MalformedRequest {
		t.Fatal("foreign InvalidArgument should be MALFORMED_REQUEST")
	}
}
