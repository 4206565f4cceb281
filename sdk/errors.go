package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// Sentinels to test API errors with errors.Is.
var (
	ErrNotFound         = errors.New("not found")
	ErrAlreadyExists    = errors.New("already exists")
	ErrPermissionDenied = errors.New("permission denied")
	ErrUnauthenticated  = errors.New("unauthenticated")
	ErrInvalidArgument  = errors.New("invalid argument")
	// ErrConflict is every refusal because of the resource's current state:
	// a stale etag, an existing name, a reused request id, a resource that is
	// not empty (HTTP 409 in the REST API).
	ErrConflict    = errors.New("conflict")
	ErrRateLimited = errors.New("rate limited")
	ErrUnavailable = errors.New("unavailable")
)

// Error is an error the API returned. It keeps the gRPC status
// (status.FromError works on it) and the stable code of Affluent's error
// catalogue.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Reason is the catalogue's code, for example "ETAG_MISMATCH" or
	// "CLUSTER_UNAVAILABLE"; empty when the status did not come from
	// Affluent (a transport failure, say).
	Reason string
	// Message is the server's explanation.
	Message string
	// RetryDelay is how long the server asked the caller to wait (rate
	// limits), zero if it did not say.
	RetryDelay time.Duration

	st *status.Status
}

func (e *Error) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = codeName(e.Code)
	}
	return reason + ": " + e.Message
}

// GRPCStatus returns the status the server sent.
func (e *Error) GRPCStatus() *status.Status { return e.st }

// Unwrap returns the gRPC status error.
func (e *Error) Unwrap() error { return e.st.Err() }

// Is matches the sentinels of this package, and context.Canceled and
// context.DeadlineExceeded for those codes.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == codes.NotFound
	case ErrAlreadyExists:
		return e.Code == codes.AlreadyExists && e.Reason != "REQUEST_ID_REUSED"
	case ErrPermissionDenied:
		return e.Code == codes.PermissionDenied
	case ErrUnauthenticated:
		return e.Code == codes.Unauthenticated
	case ErrInvalidArgument:
		return e.Code == codes.InvalidArgument
	case ErrConflict:
		return e.Code == codes.AlreadyExists || e.Code == codes.Aborted || e.Code == codes.FailedPrecondition
	case ErrRateLimited:
		return e.Code == codes.ResourceExhausted
	case ErrUnavailable:
		return e.Code == codes.Unavailable
	case context.Canceled:
		return e.Code == codes.Canceled
	case context.DeadlineExceeded:
		return e.Code == codes.DeadlineExceeded
	}
	return false
}

// asError turns what a gRPC call returned into an *Error (nil stays nil;
// errors that are not statuses are returned as they are).
func asError(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	out := &Error{Code: st.Code(), Message: st.Message(), st: st}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			out.Reason = d.GetReason()
		case *errdetails.RetryInfo:
			out.RetryDelay = d.GetRetryDelay().AsDuration()
		}
	}
	return out
}

// operationError is the error of a failed long-running operation.
func operationError(op *pb.Operation) error {
	s := op.GetError()
	code := codes.Code(s.GetCode())
	if code == codes.OK {
		code = codes.Unknown
	}
	st := status.New(code, s.GetMessage())
	return &Error{Code: code, Message: fmt.Sprintf("operation %s failed: %s", op.GetId(), s.GetMessage()), st: st}
}

// codeName is the catalogue-style name of a gRPC code (NOT_FOUND, …).
func codeName(c codes.Code) string {
	names := map[codes.Code]string{
		codes.OK: "OK", codes.Canceled: "CANCELED", codes.Unknown: "UNKNOWN",
		codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
		codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
		codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
		codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
		codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
		codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
		codes.Unauthenticated: "UNAUTHENTICATED",
	}
	if n, ok := names[c]; ok {
		return n
	}
	return c.String()
}
