package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/sasl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

// FuzzDecodeRequest feeds arbitrary frames through the request decode path
// and, when a frame decodes, through its handler and the response encoder,
// against in-memory storage: nothing a client sends may panic. Handlers run
// without the connection's recover, so a panic fails the fuzz target.
func FuzzDecodeRequest(f *testing.F) {
	for _, frame := range seedFrames() {
		f.Add(frame[4:]) // without the size prefix
	}
	store := newMemStorage()
	coord := groups.NewCoordinator(store, groups.Options{InitialRebalanceDelay: -1})
	f.Cleanup(coord.Close)
	b, err := New(Config{
		NodeID:    1,
		Catalog:   store,
		Log:       store,
		Groups:    coord,
		Anonymous: &Principal{Name: "User:fuzz", Cluster: "lkc-fuzz"},
		Logger:    testLogger(f),
	})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	if _, err := store.CreateTopic(ctx, "lkc-fuzz", "topic", 3, nil); err != nil {
		f.Fatal(err)
	}
	if _, err := store.Append(ctx, tpOf("lkc-fuzz", "topic", 0), mustParse(f, mustBatch(0, "a", "b"))); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := decodeRequest(frame)
		if err != nil {
			if !errors.Is(err, errMalformed) && !errors.Is(err, errUnsupported) {
				t.Fatalf("decode error %v is neither malformed nor unsupported", err)
			}
			return
		}
		_ = req.body.AppendTo(nil)

		server, client := net.Pipe()
		defer client.Close()
		defer server.Close()
		c := newConn(b, server)
		req.conn, req.principal = c, c.principal
		// Long polls and rebalances end with this context.
		hctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		resp, err := apis[req.key].handle(b, hctx, req)
		if err != nil || resp == nil {
			return
		}
		resp.SetVersion(req.body.GetVersion())
		_ = appendResponse(nil, req.correlationID, resp)
	})
}

func mustParse(t testing.TB, records []byte) storage.Batch {
	t.Helper()
	b, bad := parseProducedBatch(records, 9, defaultMaxMessageBytes)
	if bad != nil {
		t.Fatalf("test batch refused: %v", bad)
	}
	return b
}

// FuzzServeConn feeds an arbitrary byte stream to a whole connection (frame
// reading, SASL states, pipelining, handlers, response writing) and checks
// that nothing panics and that the connection winds down once the client
// goes away.
func FuzzServeConn(f *testing.F) {
	frames := seedFrames()
	for _, frame := range frames {
		f.Add(frame)
	}
	// A v0 SASL exchange followed by requests, and a pipelined burst.
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "PLAIN"
	fm := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed"))
	exchange := fm.AppendRequest(nil, hs, 1)
	token := sasl.AppendPlain(nil, "fuzz", "fuzz")
	exchange = append(binary.BigEndian.AppendUint32(exchange, uint32(len(token))), token...)
	exchange = append(exchange, frames[len(frames)-1]...)
	f.Add(exchange)
	f.Add(slices.Concat(frames[len(frames)-4:]...))

	store := newMemStorage()
	coord := groups.NewCoordinator(store, groups.Options{InitialRebalanceDelay: -1})
	f.Cleanup(coord.Close)
	b, err := New(Config{
		NodeID:    1,
		Catalog:   store,
		Log:       store,
		Groups:    coord,
		Anonymous: &Principal{Name: "User:fuzz", Cluster: "lkc-fuzz"},
		Logger:    slog.New(slog.DiscardHandler),
		// Small enough that a random size prefix is often refused.
		MaxFrameBytes: minFrameLimit,
	})
	if err != nil {
		f.Fatal(err)
	}
	var panicked atomic.Value
	b.onPanic = func(v any) { panicked.Store(fmt.Sprint(v)) }
	if _, err := store.CreateTopic(context.Background(), "lkc-fuzz", "topic", 3, nil); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, stream []byte) {
		server, client := net.Pipe()
		served := make(chan struct{})
		go func() {
			defer close(served)
			newConn(b, server).serve(context.Background())
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_ = client.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = client.Write(stream)
		_ = client.Close()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("connection still serving 10s after its client left")
		}
		if v := panicked.Load(); v != nil {
			t.Fatalf("panic: %v", v)
		}
	})
}
