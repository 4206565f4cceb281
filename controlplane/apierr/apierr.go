// Package apierr is the catalogue of errors API users see: each has a
// stable code, a gRPC status code and an HTTP status. Services return these
// errors; the gRPC edge turns them into statuses (with the code in a
// google.rpc.ErrorInfo detail) and the REST gateway into
// {"code": …, "message": …} with the catalogue's HTTP status. Anything that
// is not an *Error reaches users as INTERNAL, its text only in the logs.
package apierr

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Domain is the ErrorInfo domain of every Affluent error.
const Domain = "affluent.io"

// Code is a stable, documented error code.
type Code string

// Def is one entry of the catalogue.
type Def struct {
	Code        Code
	GRPC        codes.Code
	HTTP        int
	Description string
}

// The catalogue. Codes are part of the API: never rename or reuse one.
const (
	InvalidArgument    Code = "INVALID_ARGUMENT"
	MalformedRequest   Code = "MALFORMED_REQUEST"
	RequestTooLarge    Code = "REQUEST_TOO_LARGE"
	Unauthenticated    Code = "UNAUTHENTICATED"
	PermissionDenied   Code = "PERMISSION_DENIED"
	NotFound           Code = "NOT_FOUND"
	RouteNotFound      Code = "ROUTE_NOT_FOUND"
	MethodNotAllowed   Code = "METHOD_NOT_ALLOWED"
	AlreadyExists      Code = "ALREADY_EXISTS"
	EtagMismatch       Code = "ETAG_MISMATCH"
	RequestIDReused    Code = "REQUEST_ID_REUSED"
	FailedPrecondition Code = "FAILED_PRECONDITION"
	RateLimited        Code = "RATE_LIMITED"
	ClusterUnavailable Code = "CLUSTER_UNAVAILABLE"
	Unavailable        Code = "UNAVAILABLE"
	DeadlineExceeded   Code = "DEADLINE_EXCEEDED"
	Canceled           Code = "CANCELED"
	Unimplemented      Code = "UNIMPLEMENTED"
	Internal           Code = "INTERNAL"
)

var catalogue = []Def{
	{InvalidArgument, codes.InvalidArgument, http.StatusBadRequest, "A field is missing or invalid; the message names it."},
	{MalformedRequest, codes.InvalidArgument, http.StatusBadRequest, "The body is not valid JSON for the request, or a parameter has the wrong type."},
	{RequestTooLarge, codes.InvalidArgument, http.StatusRequestEntityTooLarge, "The request body exceeds the size limit."},
	{Unauthenticated, codes.Unauthenticated, http.StatusUnauthorized, "No credentials, or credentials that are unknown, wrong or of the wrong kind."},
	{PermissionDenied, codes.PermissionDenied, http.StatusForbidden, "No role binding of the caller grants the action on the resource."},
	{NotFound, codes.NotFound, http.StatusNotFound, "The resource does not exist (or not in the caller's organization)."},
	{RouteNotFound, codes.NotFound, http.StatusNotFound, "No API method is served at this path."},
	{MethodNotAllowed, codes.Unimplemented, http.StatusMethodNotAllowed, "The path exists but not with this HTTP method."},
	{AlreadyExists, codes.AlreadyExists, http.StatusConflict, "A resource with the same unique name already exists."},
	{EtagMismatch, codes.Aborted, http.StatusConflict, "The resource changed since the etag sent was read; read it again."},
	{RequestIDReused, codes.AlreadyExists, http.StatusConflict, "The request id was already used for a different request."},
	{FailedPrecondition, codes.FailedPrecondition, http.StatusConflict, "The resource is not in a state that allows the request (for example, not empty)."},
	{RateLimited, codes.ResourceExhausted, http.StatusTooManyRequests, "Too many requests from this principal; retry later."},
	{ClusterUnavailable, codes.Unavailable, http.StatusServiceUnavailable, "The cluster's brokers could not be reached; retry later."},
	{Unavailable, codes.Unavailable, http.StatusServiceUnavailable, "The service is temporarily unavailable; retry later."},
	{DeadlineExceeded, codes.DeadlineExceeded, http.StatusGatewayTimeout, "The request took too long."},
	{Canceled, codes.Canceled, 499, "The caller canceled the request."},
	{Unimplemented, codes.Unimplemented, http.StatusNotImplemented, "The method is not implemented."},
	{Internal, codes.Internal, http.StatusInternalServerError, "An unexpected error; its details are in the server log under the request id."},
}

var byCode = func() map[Code]Def {
	m := make(map[Code]Def, len(catalogue))
	for _, d := range catalogue {
		m[d.Code] = d
	}
	return m
}()

// Catalogue returns every error definition, for documentation and tests.
func Catalogue() []Def { return append([]Def(nil), catalogue...) }

// Lookup returns the definition of code; unknown codes are INTERNAL.
func Lookup(code Code) Def {
	if d, ok := byCode[code]; ok {
		return d
	}
	return byCode[Internal]
}

// Error is an error of the catalogue with a message for the user.
type Error struct {
	Code    Code
	Message string
	// Cause is kept for logs and errors.Is; it is never shown to users.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// GRPCStatus makes grpc-go send e as its catalogue status, with the code in
// an ErrorInfo detail.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(Lookup(e.Code).GRPC, e.Message)
	if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: string(e.Code), Domain: Domain}); err == nil {
		return withInfo
	}
	return st
}

// New returns an error of the catalogue.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of the catalogue that keeps cause for the logs.
func Wrap(cause error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// Invalid reports an invalid field: "field: why".
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: InvalidArgument, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// NotFoundf reports a missing resource, for example NotFoundf("environment", "env-1").
func NotFoundf(kind, id string) *Error {
	return &Error{Code: NotFound, Message: fmt.Sprintf("%s %q not found", kind, id)}
}

// From turns any error into one of the catalogue: *Error as is, context
// errors as CANCELED or DEADLINE_EXCEEDED, gRPC statuses from Affluent by
// their ErrorInfo code, anything else as INTERNAL (with the original kept as
// Cause, for the log).
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Code: Canceled, Message: "request canceled", Cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: DeadlineExceeded, Message: "request took too long", Cause: err}
	}
	if st, ok := status.FromError(err); ok {
		if code, ok := CodeOf(st); ok {
			return &Error{Code: code, Message: st.Message(), Cause: err}
		}
	}
	return &Error{Code: Internal, Message: "internal error", Cause: err}
}

// CodeOf returns the catalogue code carried by a status, if any.
func CodeOf(st *status.Status) (Code, bool) {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == Domain {
			return Code(info.GetReason()), true
		}
	}
	return "", false
}

// FromStatus maps a gRPC status that may not come from Affluent (grpc-go's
// own, or grpc-gateway's request decoding) to the catalogue.
func FromStatus(st *status.Status) *Error {
	if code, ok := CodeOf(st); ok {
		return &Error{Code: code, Message: st.Message()}
	}
	switch st.Code() {
	case codes.InvalidArgument:
		return &Error{Code: MalformedRequest, Message: st.Message()}
	case codes.Unauthenticated:
		return &Error{Code: Unauthenticated, Message: st.Message()}
	case codes.PermissionDenied:
		return &Error{Code: PermissionDenied, Message: st.Message()}
	case codes.NotFound:
		return &Error{Code: NotFound, Message: st.Message()}
	case codes.ResourceExhausted:
		return &Error{Code: RateLimited, Message: st.Message()}
	case codes.Unavailable:
		return &Error{Code: Unavailable, Message: "service unavailable"}
	case codes.DeadlineExceeded:
		return &Error{Code: DeadlineExceeded, Message: "request took too long"}
	case codes.Canceled:
		return &Error{Code: Canceled, Message: "request canceled"}
	case codes.Unimplemented:
		return &Error{Code: Unimplemented, Message: st.Message()}
	}
	return &Error{Code: Internal, Message: "internal error"}
}
