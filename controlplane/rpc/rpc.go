// Package rpc is what the control plane's service implementations share:
// mapping store errors to the error catalogue, request fingerprints for
// idempotent creates, field masks, timestamps, and the generic collection
// interface each service reads and writes through.
package rpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

// Collection is the stored set of one resource type, as services use it
// (store.Collection implements it).
type Collection[T any] interface {
	Create(ctx context.Context, v T, key store.RequestKey) (T, error)
	Get(ctx context.Context, org, id string) (T, error)
	List(ctx context.Context, org string, q store.Query) ([]T, string, error)
	Update(ctx context.Context, v T, prevEtag string) (T, error)
	Delete(ctx context.Context, org, id, etag string) error
}

// StoreError maps a store error about the resource kind/id to the
// catalogue; anything unexpected stays as is (INTERNAL at the edge).
func StoreError(err error, kind, id string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFoundf(kind, id)
	case errors.Is(err, store.ErrEtagMismatch):
		return apierr.New(apierr.EtagMismatch, "%s %q was modified since the etag sent was read; read it again", kind, id)
	case errors.Is(err, store.ErrRequestIDReused):
		return apierr.New(apierr.RequestIDReused, "request_id was already used for a different request")
	case errors.Is(err, store.ErrBadPageToken):
		return apierr.Invalid("page_token", "invalid or expired")
	case errors.Is(err, store.ErrPrincipalHasQuota):
		_, p, _ := strings.Cut(err.Error(), ": ")
		return apierr.New(apierr.AlreadyExists, "%s already has a client quota in this cluster", p)
	case errors.Is(err, store.ErrNotEmpty):
		_, detail, _ := strings.Cut(err.Error(), ": ")
		return apierr.New(apierr.FailedPrecondition, "%s; delete them first", detail)
	}
	return err
}

// AlreadyExists reports a unique-name conflict.
func AlreadyExists(err error, kind, field, value string) error {
	if errors.Is(err, store.ErrAlreadyExists) {
		return apierr.New(apierr.AlreadyExists, "a %s with %s %q already exists", kind, field, value)
	}
	return nil
}

// RequestKey is the idempotency key of a create: the method, the request
// id and a fingerprint of the whole request.
func RequestKey(method, requestID string, req proto.Message) store.RequestKey {
	if requestID == "" {
		return store.RequestKey{}
	}
	raw, _ := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	sum := sha256.Sum256(raw)
	return store.RequestKey{Method: method, RequestID: requestID, Fingerprint: hex.EncodeToString(sum[:16])}
}

// Timestamp converts a time for the API (nil for the zero time).
func Timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Mask resolves an update mask against the fields a resource lets users
// change. Output-only paths (ids, etag, times, …) are ignored, so a client
// may PATCH back a resource it read; any other unknown path is an error.
// An empty mask means every updatable field that is set (implied).
type Mask struct {
	Updatable  []string
	OutputOnly []string
}

// Paths returns the updatable paths to apply.
func (m Mask) Paths(mask *fieldmaskpb.FieldMask, implied func(path string) bool) ([]string, error) {
	if len(mask.GetPaths()) == 0 {
		var out []string
		for _, p := range m.Updatable {
			if implied(p) {
				out = append(out, p)
			}
		}
		return out, nil
	}
	var out []string
	for _, p := range mask.GetPaths() {
		switch {
		case contains(m.Updatable, p):
			if !contains(out, p) {
				out = append(out, p)
			}
		case contains(m.OutputOnly, p) || contains(m.OutputOnly, strings.SplitN(p, ".", 2)[0]):
		default:
			return nil, apierr.Invalid("update_mask", "%q cannot be updated (updatable: %s)", p, strings.Join(m.Updatable, ", "))
		}
	}
	return out, nil
}

// CommonOutputOnly are the output-only fields every resource has.
var CommonOutputOnly = []string{"id", "create_time", "update_time", "etag"}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CheckEtag compares the etag a client sent (if any) with the current one.
func CheckEtag(sent, current, kind, id string) error {
	if sent != "" && sent != current {
		return apierr.New(apierr.EtagMismatch, "%s %q was modified since the etag sent was read; read it again", kind, id)
	}
	return nil
}

// Meta starts a new resource of the caller's organization.
func Meta(org, prefix string) resource.Meta {
	return resource.Meta{ID: resource.NewID(prefix), OrgID: org}
}
