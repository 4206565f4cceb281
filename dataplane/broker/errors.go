package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// errorCode maps an error from storage to the Kafka error code a client
// sees; it is the one place that does. Errors storage does not name are
// transient trouble with the object store or the metadata DB, which Kafka
// clients retry on KAFKA_STORAGE_ERROR; the caller logs them (see
// storageError).
func errorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, storage.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, storage.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, storage.ErrInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, storage.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, storage.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, storage.ErrDuplicateSequence):
		return kerr.DuplicateSequenceNumber.Code
	case errors.Is(err, storage.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, storage.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, storage.ErrUnknownProducerID):
		return kerr.UnknownProducerID.Code
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, storage.ErrUnavailable):
		return kerr.KafkaStorageError.Code // retriable: the object store or metadata DB is failing
	default: // storage.ErrClosed, I/O, the metadata DB
		return kerr.KafkaStorageError.Code
	}
}

// isExpected reports whether err is one of the outcomes storage names, as
// opposed to a failure worth an operator's attention.
func isExpected(err error) bool {
	for _, e := range []error{
		storage.ErrUnknownTopic, storage.ErrTopicExists, storage.ErrInvalidPartitions,
		storage.ErrOffsetOutOfRange, storage.ErrOutOfOrderSequence, storage.ErrDuplicateSequence,
		storage.ErrInvalidProducerEpoch, storage.ErrUnknownProducerID, storage.ErrInvalidTxnState, context.Canceled,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// storageError returns errorCode(err), logging err when it is a failure
// rather than an answer. what names the operation for the log.
func (b *Broker) storageError(ctx context.Context, r *request, what string, err error) int16 {
	if err != nil && !isExpected(err) && ctx.Err() == nil {
		b.log.LogAttrs(ctx, slog.LevelWarn, "storage call failed",
			slog.String("op", what), slog.String("cluster", r.cluster()), slog.Any("err", err))
	}
	return errorCode(err)
}

// codeError is a Kafka error about one part of a request (a topic, a
// partition, a resource): the code and the message the response carries.
type codeError struct {
	code int16
	msg  string
}

func (e *codeError) Error() string { return e.msg }

func errorf(code int16, format string, args ...any) *codeError {
	return &codeError{code: code, msg: fmt.Sprintf(format, args...)}
}

// errMessage returns msg as a Kafka nullable string, nil when empty.
func errMessage(msg string) *string {
	if msg == "" {
		return nil
	}
	return &msg
}
