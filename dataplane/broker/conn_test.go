package broker

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/sasl"
)

func TestApiVersionsAdvertisesRegisteredRanges(t *testing.T) {
	tb := startTestBroker(t, nil)
	for _, version := range []int16{0, 1, 2, 3, 4} {
		rc := dialRaw(t, tb.addr)
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = version, "raw-test", "1.0"
		resp := rc.roundTrip(req).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", version, resp.ErrorCode)
		}
		if len(resp.ApiKeys) != len(apis) {
			t.Fatalf("v%d: %d keys advertised, %d registered", version, len(resp.ApiKeys), len(apis))
		}
		for _, k := range resp.ApiKeys {
			a := apis[k.ApiKey]
			wantMin := a.minVersion
			if a.advertiseV0 {
				wantMin = 0
			}
			if k.MinVersion != wantMin || k.MaxVersion != a.maxVersion {
				t.Errorf("v%d: key %d advertised %d..%d, registered %d..%d (advertised from v0: %v)", version, k.ApiKey, k.MinVersion, k.MaxVersion, a.minVersion, a.maxVersion, a.advertiseV0)
			}
		}
	}
}

// librdkafka before confluentinc/librdkafka#4956 was fixed (Debian's 2.0.2:
// kcat, confluent-kafka-python) compresses a batch only if the broker's
// Produce range includes v0; else it silently sends it uncompressed. Kafka 4
// advertises Produce from v0 and refuses v0-2 (KAFKA-18659); so do we.
func TestApiVersionsAdvertisesProduceFromV0(t *testing.T) {
	tb := startTestBroker(t, nil)
	rc := dialRaw(t, tb.addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = 3, "raw-test", "1.0"
	resp := rc.roundTrip(req).(*kmsg.ApiVersionsResponse)
	i := slices.IndexFunc(resp.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == apiProduce })
	if i < 0 || resp.ApiKeys[i].MinVersion != 0 || resp.ApiKeys[i].MaxVersion != apis[apiProduce].maxVersion {
		t.Fatalf("Produce advertised as %+v, want v0..v%d", resp.ApiKeys[max(i, 0)], apis[apiProduce].maxVersion)
	}
	if apis[apiProduce].minVersion != 3 {
		t.Fatalf("Produce accepted from v%d, want v3 (message format 2 only)", apis[apiProduce].minVersion)
	}
}

func TestApiVersionsUnknownVersionFallsBackToV0(t *testing.T) {
	tb := startTestBroker(t, nil)
	rc := dialRaw(t, tb.addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 9 // kmsg encodes it like its newest; we must not parse it
	corr := rc.send(req)
	resp := kmsg.NewPtrApiVersionsResponse() // v0
	if got := rc.recv(resp); got != corr {
		t.Fatalf("correlation id %d, want %d", got, corr)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != len(apis) {
		t.Fatalf("got error %d with %d keys, want UNSUPPORTED_VERSION with all %d", resp.ErrorCode, len(resp.ApiKeys), len(apis))
	}
	// The connection stays usable, at a version we know.
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "raw-test", "1.0"
	if resp := rc.roundTrip(req).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("retry at v3: error %d", resp.ErrorCode)
	}
}

func TestApiVersionsRejectsBadSoftwareName(t *testing.T) {
	tb := startTestBroker(t, nil)
	rc := dialRaw(t, tb.addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = 3, "-bad name", "1.0"
	if resp := rc.roundTrip(req).(*kmsg.ApiVersionsResponse); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("error %d, want INVALID_REQUEST", resp.ErrorCode)
	}
}

func TestConnectionClosedOn(t *testing.T) {
	tb := startTestBroker(t, func(c *Config) { c.MaxFrameBytes = 1 << 20 })
	tests := []struct {
		name string
		auth bool
		send func(rc *rawClient)
	}{
		{"request before authentication", false, func(rc *rawClient) { rc.send(kmsg.NewPtrMetadataRequest()) }},
		{"unknown api key", true, func(rc *rawClient) {
			rc.writeFrame(kbin.AppendNullableString(kbin.AppendInt32(kbin.AppendInt16(kbin.AppendInt16(nil, 9999), 0), 1), nil))
		}},
		{"unregistered api", true, func(rc *rawClient) { rc.send(kmsg.NewPtrDescribeACLsRequest()) }},
		{"version below range", true, func(rc *rawClient) {
			req := kmsg.NewPtrProduceRequest()
			req.Version = 2
			rc.send(req)
		}},
		{"version above range", true, func(rc *rawClient) {
			req := kmsg.NewPtrMetadataRequest()
			req.Version = 13
			rc.send(req)
		}},
		{"truncated header", true, func(rc *rawClient) { rc.writeFrame([]byte{0, 3, 0}) }},
		{"malformed body", true, func(rc *rawClient) {
			rc.writeFrame(kbin.AppendInt32(kbin.AppendNullableString(kbin.AppendInt32(kbin.AppendInt16(kbin.AppendInt16(nil, apiMetadata), 1), 7), nil), 1000))
		}},
		{"frame above the pre-auth limit", false, func(rc *rawClient) {
			rc.writeFrame(make([]byte, maxPreAuthFrameBytes+1))
		}},
		{"size prefix above the limit, body never sent", true, func(rc *rawClient) {
			if _, err := rc.conn.Write([]byte{0x7f, 0xff, 0xff, 0xff}); err != nil {
				t.Fatal(err)
			}
		}},
		{"negative size prefix", true, func(rc *rawClient) {
			if _, err := rc.conn.Write([]byte{0xff, 0xff, 0xff, 0xf0}); err != nil {
				t.Fatal(err)
			}
		}},
		{"SaslAuthenticate before handshake", false, func(rc *rawClient) {
			req := kmsg.NewPtrSASLAuthenticateRequest()
			req.SASLAuthBytes = sasl.AppendPlain(nil, "alice", "alice-secret")
			resp := rc.roundTrip(req).(*kmsg.SASLAuthenticateResponse)
			if resp.ErrorCode != kerr.IllegalSaslState.Code {
				t.Errorf("error %d, want ILLEGAL_SASL_STATE", resp.ErrorCode)
			}
		}},
		{"second handshake", true, func(rc *rawClient) {
			req := kmsg.NewPtrSASLHandshakeRequest()
			req.Version, req.Mechanism = 1, "PLAIN"
			if resp := rc.roundTrip(req).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
				t.Errorf("error %d, want ILLEGAL_SASL_STATE", resp.ErrorCode)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, tb.addr)
			rc.t = t
			if tt.auth {
				rc.authenticate("alice", "alice-secret")
			}
			tt.send(rc)
			rc.expectClosed()
		})
	}
}

func TestSASLPlain(t *testing.T) {
	tb := startTestBroker(t, nil)
	if _, err := tb.store.CreateTopic(t.Context(), "lkc-a", "alice-topic", 1, nil); err != nil {
		t.Fatal(err)
	}

	t.Run("good credentials scope the connection to their cluster", func(t *testing.T) {
		for user, want := range map[string][]string{"alice": {"alice-topic"}, "bob": nil} {
			rc := dialRaw(t, tb.addr)
			rc.authenticate(user, testUsers[user].Password)
			resp := rc.roundTrip(allTopicsMetadata()).(*kmsg.MetadataResponse)
			var got []string
			for _, topic := range resp.Topics {
				got = append(got, *topic.Topic)
			}
			if !slices.Equal(got, want) || *resp.ClusterID != testUsers[user].Principal.Cluster {
				t.Errorf("%s sees cluster %s topics %v, want %s %v", user, *resp.ClusterID, got, testUsers[user].Principal.Cluster, want)
			}
		}
	})

	for _, tc := range []struct{ name, user, password string }{
		{"wrong password", "alice", "bob-secret"},
		{"unknown user", "mallory", "alice-secret"},
		{"empty password", "alice", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, tb.addr)
			hs := kmsg.NewPtrSASLHandshakeRequest()
			hs.Version, hs.Mechanism = 1, "PLAIN"
			rc.roundTrip(hs)
			auth := kmsg.NewPtrSASLAuthenticateRequest()
			auth.Version, auth.SASLAuthBytes = 1, []byte("\x00"+tc.user+"\x00"+tc.password)
			start := time.Now()
			resp := rc.roundTrip(auth).(*kmsg.SASLAuthenticateResponse)
			if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil || *resp.ErrorMessage != authFailedMessage {
				t.Fatalf("got error %d %v, want SASL_AUTHENTICATION_FAILED %q", resp.ErrorCode, resp.ErrorMessage, authFailedMessage)
			}
			if elapsed := time.Since(start); elapsed < DefaultFailedAuthDelay {
				t.Errorf("failure answered after %v, want at least %v", elapsed, DefaultFailedAuthDelay)
			}
			rc.expectClosed()
		})
	}

	t.Run("unsupported mechanism", func(t *testing.T) {
		rc := dialRaw(t, tb.addr)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "GSSAPI"
		resp := rc.roundTrip(hs).(*kmsg.SASLHandshakeResponse)
		if resp.ErrorCode != kerr.UnsupportedSaslMechanism.Code || !slices.Equal(resp.SupportedMechanisms, []string{"PLAIN"}) {
			t.Fatalf("got %d %v, want UNSUPPORTED_SASL_MECHANISM [PLAIN]", resp.ErrorCode, resp.SupportedMechanisms)
		}
		rc.expectClosed()
	})

	t.Run("v0 handshake then a bare token", func(t *testing.T) {
		rc := dialRaw(t, tb.addr)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Mechanism = "PLAIN"
		if resp := rc.roundTrip(hs).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
			t.Fatalf("handshake v0: error %d", resp.ErrorCode)
		}
		rc.writeFrame(sasl.AppendPlain(nil, "alice", "alice-secret"))
		if token, err := rc.readFrame(); err != nil || len(token) != 0 {
			t.Fatalf("token answer %q, %v; want an empty frame", token, err)
		}
		resp := rc.roundTrip(allTopicsMetadata()).(*kmsg.MetadataResponse)
		if *resp.ClusterID != "lkc-a" {
			t.Fatalf("cluster %s, want lkc-a", *resp.ClusterID)
		}
	})

	t.Run("v0 bad token closes", func(t *testing.T) {
		rc := dialRaw(t, tb.addr)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Mechanism = "PLAIN"
		rc.roundTrip(hs)
		rc.writeFrame(sasl.AppendPlain(nil, "alice", "wrong"))
		rc.expectClosed()
	})

	t.Run("requests during the exchange close", func(t *testing.T) {
		rc := dialRaw(t, tb.addr)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "PLAIN"
		rc.roundTrip(hs)
		rc.send(kmsg.NewPtrApiVersionsRequest())
		rc.expectClosed()
	})
}

func TestAnonymousAccess(t *testing.T) {
	tb := startTestBroker(t, func(c *Config) {
		c.Authenticator = nil
		c.Anonymous = &Principal{Name: "User:anonymous", Cluster: "lkc-dev"}
	})
	rc := dialRaw(t, tb.addr)
	if resp := rc.roundTrip(allTopicsMetadata()).(*kmsg.MetadataResponse); *resp.ClusterID != "lkc-dev" {
		t.Fatalf("cluster %s, want lkc-dev", *resp.ClusterID)
	}
	// Clients configured for SASL still get in, as the same principal.
	rc = dialRaw(t, tb.addr)
	rc.authenticate("anyone", "anything")
	if resp := rc.roundTrip(allTopicsMetadata()).(*kmsg.MetadataResponse); *resp.ClusterID != "lkc-dev" {
		t.Fatalf("cluster %s after SASL, want lkc-dev", *resp.ClusterID)
	}
}

func TestAuthTimeoutClosesIdleUnauthenticatedConnection(t *testing.T) {
	tb := startTestBroker(t, func(c *Config) { c.AuthTimeout = 200 * time.Millisecond })
	rc := dialRaw(t, tb.addr)
	rc.expectClosed()
}

func TestResponsesInRequestOrder(t *testing.T) {
	tb := startTestBroker(t, nil)
	tb.store.appendDelay = 150 * time.Millisecond
	if _, err := tb.store.CreateTopic(t.Context(), "lkc-a", "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, tb.addr)
	rc.authenticate("alice", "alice-secret")

	// A slow produce, then quick requests: their answers must wait for it.
	produce := produceRequest("t", 0, testBatch(t, 0, "a"))
	var sent []int32
	var resps []kmsg.Response
	for _, req := range []kmsg.Request{produce, kmsg.NewPtrMetadataRequest(), kmsg.NewPtrApiVersionsRequest(), produceRequest("t", 0, testBatch(t, 0, "b"))} {
		sent = append(sent, rc.send(req))
		resps = append(resps, req.ResponseKind())
	}
	for i, resp := range resps {
		if got := rc.recv(resp); got != sent[i] {
			t.Fatalf("response %d has correlation id %d, want %d", i, got, sent[i])
		}
	}
	// Produce requests of one connection are appended in order.
	first := resps[0].(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	second := resps[3].(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if first.ErrorCode != 0 || second.ErrorCode != 0 || first.BaseOffset != 0 || second.BaseOffset != 1 {
		t.Fatalf("produce results %+v and %+v, want offsets 0 and 1", first, second)
	}
}

func TestAcksZeroGetsNoResponse(t *testing.T) {
	tb := startTestBroker(t, nil)
	if _, err := tb.store.CreateTopic(t.Context(), "lkc-a", "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, tb.addr)
	rc.authenticate("alice", "alice-secret")
	produce := produceRequest("t", 0, testBatch(t, 0, "fire and forget"))
	produce.Acks = 0
	rc.send(produce)
	corr := rc.send(kmsg.NewPtrApiVersionsRequest())
	if got := rc.recv(kmsg.NewPtrApiVersionsResponse()); got != corr {
		t.Fatalf("first response has correlation id %d, want %d (ApiVersions)", got, corr)
	}
	if _, end, _ := tb.store.Offsets(t.Context(), tpOf("lkc-a", "t", 0)); end != 1 {
		t.Fatalf("high watermark %d after acks=0 produce, want 1", end)
	}
}

func TestFetchLongPollStopsWhenConnectionCloses(t *testing.T) {
	tb := startTestBroker(t, nil)
	if _, err := tb.store.CreateTopic(t.Context(), "lkc-a", "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, tb.addr)
	rc.authenticate("alice", "alice-secret")
	fetch := fetchRequest("t", 0, 0)
	fetch.MaxWaitMillis, fetch.MinBytes = 60_000, 1
	rc.send(fetch)
	time.Sleep(100 * time.Millisecond)
	_ = rc.conn.Close()
	// The test's cleanup waits for Serve, which waits for the connection's
	// goroutines: a fetch that ignored the close would hang it for a minute.
	done := make(chan struct{})
	go func() { tb.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("broker did not close within 5s: the long poll outlived its connection")
	}
}

func TestFetchWakesOnProduce(t *testing.T) {
	tb := startTestBroker(t, nil)
	if _, err := tb.store.CreateTopic(t.Context(), "lkc-a", "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	consumer := dialRaw(t, tb.addr)
	consumer.authenticate("alice", "alice-secret")
	fetch := fetchRequest("t", 0, 0)
	fetch.MaxWaitMillis, fetch.MinBytes = 10_000, 1
	start := time.Now()
	corr := consumer.send(fetch)

	time.Sleep(100 * time.Millisecond)
	producer := dialRaw(t, tb.addr)
	producer.authenticate("alice", "alice-secret")
	if resp := producer.roundTrip(produceRequest("t", 0, testBatch(t, 0, "wake up"))).(*kmsg.ProduceResponse); resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("produce: error %d", resp.Topics[0].Partitions[0].ErrorCode)
	}

	resp := fetch.ResponseKind().(*kmsg.FetchResponse)
	if got := consumer.recv(resp); got != corr {
		t.Fatalf("correlation id %d, want %d", got, corr)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.HighWatermark != 1 || len(p.RecordBatches) == 0 {
		t.Fatalf("fetch got error %d hwm %d %d bytes, want the new batch", p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("fetch answered after %v: it waited for max wait instead of waking", elapsed)
	}
}

func TestDecodeRequestRoundTrip(t *testing.T) {
	for _, frame := range seedFrames() {
		req, err := decodeRequest(frame[4:])
		if err != nil {
			t.Fatalf("decode %x: %v", frame[:min(len(frame), 16)], err)
		}
		if req.correlationID != 7 || req.clientID != "seed" {
			t.Fatalf("%s v%d: header %+v", kmsg.NameForKey(req.key), req.version, req)
		}
	}
}

// seedFrames are frames (size included) of every registered API at every
// version, with a few populated bodies.
func seedFrames() [][]byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed"))
	var frames [][]byte
	keys := make([]int16, 0, len(apis))
	for k := range apis {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		a := apis[k]
		for v := a.minVersion; v <= a.maxVersion; v++ {
			req := kmsg.RequestForKey(k)
			req.SetVersion(v)
			frames = append(frames, f.AppendRequest(nil, req, 7))
		}
	}
	produce := produceRequest("topic", 0, mustBatch(0, "seed record"))
	produce.Version = 9
	fetch := fetchRequest("topic", 0, 0)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version, meta.Topics = 12, []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("topic")}}
	create := kmsg.NewPtrCreateTopicsRequest()
	create.Version = 7
	create.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "topic", NumPartitions: 3, ReplicationFactor: -1,
		Configs: []kmsg.CreateTopicsRequestTopicConfig{{Name: "retention.ms", Value: kmsg.StringPtr("1000")}}}}
	join := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	join.Version, join.Group, join.MemberID, join.RebalanceTimeoutMillis = 1, "group", "member", 1000
	join.SubscribedTopicNames, join.Topics = []string{"topic"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	for _, req := range []kmsg.Request{produce, fetch, meta, create, join} {
		frames = append(frames, f.AppendRequest(nil, req, 7))
	}
	return frames
}

func TestHandlerFilesNamedAfterKeys(t *testing.T) {
	// Every registered key has a name kmsg knows: a typo in a key constant
	// would register the wrong API.
	for k, a := range apis {
		if name := kmsg.NameForKey(k); name == "" || strings.HasPrefix(name, "Unknown") {
			t.Errorf("key %d (%+v) is not a Kafka API", k, a)
		}
	}
}

// allTopicsMetadata asks for every topic at v12.
func allTopicsMetadata() *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	return req
}

func TestFetchEmptyRecordsAreNotNull(t *testing.T) {
	// librdkafka rejects a null record set; Kafka sends an empty one.
	tb := startTestBroker(t, nil)
	if _, err := tb.store.CreateTopic(t.Context(), "lkc-a", "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, tb.addr)
	rc.authenticate("alice", "alice-secret")
	fetch := fetchRequest("t", 0, 0)
	fetch.Version = 11 // non-flexible: records are int32-sized bytes
	fetch.Topics = append(fetch.Topics, fetchRequest("unknown", 0, 0).Topics...)
	resp := rc.roundTrip(fetch).(*kmsg.FetchResponse)
	for _, topic := range resp.Topics {
		if p := topic.Partitions[0]; p.RecordBatches == nil {
			t.Errorf("%s: null record set (error %d)", topic.Topic, p.ErrorCode)
		}
	}
}

func TestAcksZeroErrorClosesConnection(t *testing.T) {
	tb := startTestBroker(t, nil)
	rc := dialRaw(t, tb.addr)
	rc.authenticate("alice", "alice-secret")
	produce := produceRequest("no-such-topic", 0, testBatch(t, 0, "lost"))
	produce.Acks = 0
	rc.send(produce)
	rc.expectClosed()
}
