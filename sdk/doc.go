// Package sdk is the Go client of the Affluent API. The CLI and the
// Terraform provider are built on it; nothing else speaks to the API by hand.
//
// One constructor connects to the control plane's gRPC endpoint with one
// kind of credential:
//
//	client, err := sdk.New(ctx, "api.affluent.example:443", sdk.WithAPIKey(key, secret))
//	client, err := sdk.New(ctx, endpoint, sdk.WithClientCredentials(tokenURL, id, secret))
//	client, err := sdk.New(ctx, "127.0.0.1:8090", sdk.WithAPIKey(key, secret), sdk.WithInsecure())
//
// Each resource has typed methods (CreateEnvironment, GetCluster,
// ListTopics, …) that take and return the API's messages, re-exported here
// as Environment, Cluster, Topic and so on. List methods return
// iter.Seq2[T, error] iterators that fetch pages as they are consumed;
// [Collect] gathers one into a slice.
//
// Errors from the API are *[Error] values that keep the gRPC status, so
// callers test them with errors.Is against [ErrNotFound], [ErrAlreadyExists],
// [ErrConflict], [ErrPermissionDenied], [ErrUnauthenticated],
// [ErrInvalidArgument], [ErrRateLimited] or [ErrUnavailable].
//
// Calls are retried with exponential backoff and jitter when the API is
// unavailable or rate limits the caller (honoring the server's retry delay),
// and reads also after a deadline exceeded on one attempt. Creates carry a
// request id, generated unless [RequestID] gives one, so that a retried
// create returns the resource the first attempt made instead of a second one.
//
// Long-running work has waiters: [Client.WaitOperation] and
// [Client.WaitClusterRunning] poll with backoff until done or ctx ends.
package sdk
