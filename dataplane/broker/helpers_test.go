package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/sasl"
)

// Credentials of the test brokers: two tenants.
var testUsers = StaticAuthenticator{
	"alice": {Password: "alice-secret", Principal: Principal{Name: "User:alice", Cluster: "lkc-a"}},
	"bob":   {Password: "bob-secret", Principal: Principal{Name: "User:bob", Cluster: "lkc-b"}},
}

// testBroker is a broker on a loopback port backed by memStorage.
type testBroker struct {
	*Broker
	addr  string
	store *memStorage
}

// startTestBroker starts a broker with the test users; configure may change
// its config before it starts.
func startTestBroker(t testing.TB, configure func(*Config)) *testBroker {
	t.Helper()
	store := newMemStorage()
	coord := groups.NewCoordinator(store, groups.Options{InitialRebalanceDelay: -1, Logger: testLogger(t)})
	cfg := Config{
		NodeID:        1,
		Catalog:       store,
		Log:           store,
		Groups:        coord,
		Authenticator: testUsers,
		Logger:        testLogger(t),
	}
	if configure != nil {
		configure(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- b.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve returned %v, want nil after cancel", err)
		}
		coord.Close()
	})
	return &testBroker{Broker: b, addr: lis.Addr().String(), store: store}
}

// testLogger logs to the test's output until the test ends, then discards.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu      sync.Mutex // guards w and stopped
	w       io.Writer
	stopped bool
}

func (tw *testWriter) Write(p []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.stopped {
		return len(p), nil
	}
	return tw.w.Write(p)
}

func (tw *testWriter) stop() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.stopped = true
}

// rawClient speaks the Kafka protocol by hand, for tests of the wire.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	corr int32
	fmt  *kmsg.RequestFormatter
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawClient{t: t, conn: c, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw-test"))}
}

// send writes req at the version it carries and returns its correlation id.
func (rc *rawClient) send(req kmsg.Request) int32 {
	rc.t.Helper()
	rc.corr++
	if _, err := rc.conn.Write(rc.fmt.AppendRequest(nil, req, rc.corr)); err != nil {
		rc.t.Fatalf("write %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return rc.corr
}

// writeFrame writes body with a size prefix.
func (rc *rawClient) writeFrame(body []byte) {
	rc.t.Helper()
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	if _, err := rc.conn.Write(append(frame, body...)); err != nil {
		rc.t.Fatalf("write frame: %v", err)
	}
}

// readFrame reads one size-prefixed frame.
func (rc *rawClient) readFrame() ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(rc.conn, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(rc.conn, body)
	return body, err
}

// recv reads a response into resp (whose version must be set) and returns
// its correlation id.
func (rc *rawClient) recv(resp kmsg.Response) int32 {
	rc.t.Helper()
	body, err := rc.readFrame()
	if err != nil {
		rc.t.Fatalf("read %s response: %v", kmsg.NameForKey(resp.Key()), err)
	}
	rd := kbin.Reader{Src: body}
	corr := rd.Int32()
	if resp.IsFlexible() && resp.Key() != apiApiVersions {
		kmsg.SkipTags(&rd)
	}
	if err := resp.ReadFrom(rd.Src); err != nil {
		rc.t.Fatalf("decode %s v%d response: %v", kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return corr
}

// roundTrip sends req and reads its response.
func (rc *rawClient) roundTrip(req kmsg.Request) kmsg.Response {
	rc.t.Helper()
	corr := rc.send(req)
	resp := req.ResponseKind()
	if got := rc.recv(resp); got != corr {
		rc.t.Fatalf("%s: response correlation id %d, want %d", kmsg.NameForKey(req.Key()), got, corr)
	}
	return resp
}

// expectClosed checks that the broker closes the connection without
// answering anything more.
func (rc *rawClient) expectClosed() {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	body, err := rc.readFrame()
	if err == nil {
		rc.t.Fatalf("connection still open: read a %d-byte frame", len(body))
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		rc.t.Fatalf("want the connection closed, got %v", err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// authenticate runs SASL/PLAIN v1 (handshake + authenticate) and fails the
// test unless it succeeds.
func (rc *rawClient) authenticate(user, password string) {
	rc.t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, sasl.MechanismPlain
	if resp := rc.roundTrip(hs).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
		rc.t.Fatalf("handshake: error %d", resp.ErrorCode)
	}
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.Version, auth.SASLAuthBytes = 2, sasl.AppendPlain(nil, user, password)
	if resp := rc.roundTrip(auth).(*kmsg.SASLAuthenticateResponse); resp.ErrorCode != 0 {
		rc.t.Fatalf("authenticate %s: error %d (%v)", user, resp.ErrorCode, resp.ErrorMessage)
	}
}
