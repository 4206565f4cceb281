package broker

// The transaction coordinator (exactly-once, KIP-98). Each transactional id
// is coordinated by the broker placement names for it (FindCoordinator key
// type 1, routing.go); the others answer NOT_COORDINATOR. Its state —
// producer id and epoch, Empty / Ongoing / PrepareCommit / PrepareAbort /
// CompleteCommit / CompleteAbort, the partitions and groups of the current
// transaction, the timeout — lives in the metadata DB
// (storage.Transactions), saved with a version check, so that the broker
// taking over after a failure resumes it: a transaction left in a Prepare
// state is completed by the next request for it or by the timeout pass.
//
// Ending a transaction writes a control batch (commit or abort marker) into
// each of its partitions through the normal commit path, which records in
// the same DB transaction that the producer's transaction there is closed
// (and, for an abort, the aborted span); the group offsets it committed
// then become visible (commit) or are dropped (abort), with the state's
// move to Complete, in one DB transaction.
//
// Requests for one transactional id are serialized on this broker.

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/membership"
	"github.com/affluent-io/affluent/dataplane/storage"
)

// Defaults and bounds of the transaction coordinator (Kafka's
// transaction.max.timeout.ms and the abort pass interval).
const (
	maxTxnTimeoutMs     = 15 * 60 * 1000
	txnTimeoutScanEvery = time.Second
	// A transaction left in a Prepare state this long is taken as
	// abandoned by a failed broker and completed by the timeout pass.
	txnPrepareStale = 5 * time.Second
	// markerTimeout bounds the wait for a transaction's markers.
	markerTimeout = 30 * time.Second
)

// txnCoordinator serializes the requests for each transactional id.
type txnCoordinator struct {
	mu    sync.Mutex // guards locks
	locks map[txnKey]*txnLock
}

type txnKey struct{ cluster, id string }

type txnLock struct {
	mu    sync.Mutex
	users int // guarded by txnCoordinator.mu
}

// lock takes the lock of one transactional id and returns its release.
func (c *txnCoordinator) lock(cluster, id string) func() {
	k := txnKey{cluster, id}
	c.mu.Lock()
	if c.locks == nil {
		c.locks = map[txnKey]*txnLock{}
	}
	l := c.locks[k]
	if l == nil {
		l = &txnLock{}
		c.locks[k] = l
	}
	l.users++
	c.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		c.mu.Lock()
		if l.users--; l.users == 0 {
			delete(c.locks, k)
		}
		c.mu.Unlock()
	}
}

// txnStore is where transactions are kept: Config.Transactions, else the
// Log when it keeps them too; nil when transactions are not supported.
func (b *Broker) txnStore() storage.Transactions {
	if b.cfg.Transactions != nil {
		return b.cfg.Transactions
	}
	ts, _ := b.cfg.Log.(storage.Transactions)
	return ts
}

// coordinatesTxn reports whether this broker coordinates a transactional id.
func (b *Broker) coordinatesTxn(cluster, id string) bool {
	if b.cfg.Membership == nil {
		return true
	}
	c, ok := b.coordinatorOf(b.view(), cluster, membership.CoordinatorTransaction, id)
	return ok && c.NodeID == b.cfg.NodeID
}

// txnStorageCode is the answer to a transaction API whose state could not
// be read or saved: retriable, so the client tries again (perhaps at
// another coordinator).
func (b *Broker) txnStorageCode(ctx context.Context, r *request, what string, err error) int16 {
	if errors.Is(err, storage.ErrTxnConflict) {
		return kerr.ConcurrentTransactions.Code
	}
	b.storageError(ctx, r, what, err)
	return kerr.CoordinatorNotAvailable.Code
}

// checkTxnProducer checks a request's producer id and epoch against the
// transaction's: another id is INVALID_PRODUCER_ID_MAPPING, an older epoch
// is a fenced zombie (PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for
// clients that predate it), a newer one cannot be ours.
func checkTxnProducer(t storage.Transaction, producerID int64, epoch int16, fencedCode bool) int16 {
	switch {
	case producerID != t.ProducerID:
		return kerr.InvalidProducerIDMapping.Code
	case epoch != t.ProducerEpoch && fencedCode:
		return kerr.ProducerFenced.Code
	case epoch != t.ProducerEpoch:
		return kerr.InvalidProducerEpoch.Code
	}
	return 0
}

// nowMs is the coordinator's clock.
func nowMs() int64 { return time.Now().UnixMilli() }

// initTxnProducer gives a transactional producer its id and a new epoch,
// ending whatever its previous incarnation left: an ongoing transaction is
// aborted, an unfinished end is completed. producerID and epoch are the
// ones the producer had (KIP-360, v3+), -1 when none.
//
// A producer that names the id and epoch this request's predecessor
// replaced, with nothing done since (state Empty), is retrying a request
// whose answer it lost, and gets the current id and epoch again, as from
// Kafka (TransactionMetadata.prepareIncrementProducerEpoch). Only a
// request that names the pair it replaces records it: a new incarnation,
// which names none, leaves nothing by which its predecessor could pass.
func (b *Broker) initTxnProducer(ctx context.Context, cluster, id string, timeoutMs int32, producerID int64, epoch int16, fencedCode bool) (storage.Transaction, int16, error) {
	ts := b.txnStore()
	defer b.txns.lock(cluster, id)()
	t, found, err := ts.Transaction(ctx, cluster, id)
	if err != nil {
		return t, 0, err
	}
	now := nowMs()
	if !found {
		// A producer naming an id and epoch whose transactional id was
		// forgotten (expired) starts afresh too, as in Kafka.
		pid, err := b.cfg.Log.AllocateProducerID(ctx)
		if err != nil {
			return t, 0, err
		}
		t = storage.Transaction{TransactionalID: id, ProducerID: pid, LastProducerID: -1, LastProducerEpoch: -1,
			State: storage.TxnEmpty, TimeoutMs: timeoutMs, StartTime: -1, UpdateTime: now}
		return t, 0, ts.SaveTransaction(ctx, cluster, &t)
	}
	named := producerID >= 0
	if named && (producerID != t.ProducerID || epoch != t.ProducerEpoch) {
		if retriedInit(t, producerID, epoch) {
			t.TimeoutMs, t.UpdateTime = timeoutMs, now
			return t, 0, ts.SaveTransaction(ctx, cluster, &t)
		}
		if fencedCode {
			return t, kerr.ProducerFenced.Code, nil
		}
		return t, kerr.InvalidProducerEpoch.Code, nil
	}
	lastID, lastEpoch := int64(-1), int16(-1)
	if named {
		lastID, lastEpoch = producerID, epoch
	}
	fenced := false
	switch t.State {
	case storage.TxnOngoing:
		// The previous incarnation's transaction is aborted at a new
		// epoch, which fences it everywhere it wrote.
		fenceEpoch(&t)
		fenced = true
		if err := b.endTxn(ctx, cluster, &t, false); err != nil {
			return t, 0, err
		}
	case storage.TxnPrepareCommit, storage.TxnPrepareAbort:
		if err := b.endTxn(ctx, cluster, &t, t.State == storage.TxnPrepareCommit); err != nil {
			return t, 0, err
		}
	}
	if !fenced {
		fenceEpoch(&t)
	}
	if t.ProducerEpoch == math.MaxInt16 {
		// The epochs ran out: a new producer id, as Kafka gives.
		pid, err := b.cfg.Log.AllocateProducerID(ctx)
		if err != nil {
			return t, 0, err
		}
		t.ProducerID, t.ProducerEpoch = pid, 0
	}
	t.LastProducerID, t.LastProducerEpoch = lastID, lastEpoch
	t.State, t.Partitions, t.Groups = storage.TxnEmpty, nil, nil
	t.TimeoutMs, t.StartTime, t.UpdateTime = timeoutMs, -1, nowMs()
	return t, 0, ts.SaveTransaction(ctx, cluster, &t)
}

// retriedInit reports whether an InitProducerId naming producerID and
// epoch, which are not t's, retries the one that made t's: they are the
// pair it replaced and nothing has happened since.
func retriedInit(t storage.Transaction, producerID int64, epoch int16) bool {
	return t.State == storage.TxnEmpty && t.LastProducerID >= 0 && t.LastProducerEpoch >= 0 &&
		producerID == t.LastProducerID && epoch == t.LastProducerEpoch
}

// fenceEpoch raises t's epoch (up to the last, math.MaxInt16): markers
// written at it fence the producer's older epochs in each partition, and
// the coordinator refuses them. The producer id stays, so that the markers
// close the transactions it opened.
func fenceEpoch(t *storage.Transaction) {
	if t.ProducerEpoch < math.MaxInt16 {
		t.ProducerEpoch++
	}
	// The fenced producer must not pass for one retrying its last
	// InitProducerId.
	t.LastProducerID, t.LastProducerEpoch = -1, -1
}

// beginTxnMember adds partitions or groups to t's transaction, which
// starts it when none is ongoing. The caller holds the id's lock and has
// checked the producer.
func beginTxnMember(t *storage.Transaction, partitions []storage.TxnPartition, groups []string) int16 {
	now := nowMs()
	switch t.State {
	case storage.TxnPrepareCommit, storage.TxnPrepareAbort:
		return kerr.ConcurrentTransactions.Code
	case storage.TxnEmpty, storage.TxnCompleteCommit, storage.TxnCompleteAbort:
		t.State, t.Partitions, t.Groups, t.StartTime = storage.TxnOngoing, nil, nil, now
	}
	for _, p := range partitions {
		if !slices.Contains(t.Partitions, p) {
			t.Partitions = append(t.Partitions, p)
		}
	}
	for _, g := range groups {
		if !slices.Contains(t.Groups, g) {
			t.Groups = append(t.Groups, g)
		}
	}
	t.UpdateTime = now
	return 0
}

// endTxn ends t's transaction: Prepare state saved, markers written to
// every partition, then Complete saved with the staged offsets committed
// or dropped. A failure leaves the Prepare state, from which a retry (or
// the timeout pass, or another broker) completes it. The caller holds
// the id's lock.
func (b *Broker) endTxn(ctx context.Context, cluster string, t *storage.Transaction, commit bool) error {
	ts := b.txnStore()
	prepare := storage.TxnPrepareAbort
	if commit {
		prepare = storage.TxnPrepareCommit
	}
	if t.State != prepare {
		t.State, t.UpdateTime = prepare, nowMs()
		if err := ts.SaveTransaction(ctx, cluster, t); err != nil {
			return err
		}
	}
	if err := b.writeMarkers(ctx, cluster, *t, commit); err != nil {
		return err
	}
	t.State = storage.TxnCompleteAbort
	if commit {
		t.State = storage.TxnCompleteCommit
	}
	t.Partitions, t.Groups, t.StartTime, t.UpdateTime = nil, nil, -1, nowMs()
	return ts.CompleteTransaction(ctx, cluster, t, commit)
}

// writeMarkers appends t's marker to each of its partitions, concurrently
// (one flush of the write pipeline for all). A partition whose topic was
// deleted needs none.
func (b *Broker) writeMarkers(ctx context.Context, cluster string, t storage.Transaction, commit bool) error {
	batch := markerBatch(t.ProducerID, t.ProducerEpoch, commit, nowMs())
	// Storage commits a marker only while the transaction is in the
	// Prepare state it was written for, so one that commits after this
	// attempt gave up cannot end a later transaction.
	batch.TransactionalID = t.TransactionalID
	// The markers are waited for even if the client goes away: an
	// answer from storage tells whether they committed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markerTimeout)
	defer cancel()
	errs := make([]error, len(t.Partitions))
	var wg sync.WaitGroup
	for i, p := range t.Partitions {
		wg.Go(func() {
			tp := storage.TopicPartition{Cluster: cluster, Topic: p.Topic, Partition: p.Partition}
			_, err := b.cfg.Log.Append(ctx, tp, batch)
			if err != nil && !errors.Is(err, storage.ErrUnknownTopic) {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// markerAttributes are those of a control batch.
const markerAttributes = attrTransactional | attrControl

// markerBatch builds the control batch ending a transaction in a
// partition: one control record whose key is version 0 and the type
// (abort 0, commit 1) and whose value is version 0 and the coordinator
// epoch (always 0: coordinators fence each other through the DB instead).
func markerBatch(producerID int64, epoch int16, commit bool, now int64) storage.Batch {
	typ := storage.ControlAbort
	if commit {
		typ = storage.ControlCommit
	}
	var body []byte
	body = append(body, 0)              // record attributes
	body = binary.AppendVarint(body, 0) // timestamp delta
	body = binary.AppendVarint(body, 0) // offset delta
	body = binary.AppendVarint(body, 4) // key length
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint16(body, uint16(typ))
	body = binary.AppendVarint(body, 6) // value length
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint32(body, 0)
	body = binary.AppendVarint(body, 0) // headers
	record := binary.AppendVarint(nil, int64(len(body)))
	record = append(record, body...)

	raw := make([]byte, 0, 61+len(record))
	raw = binary.BigEndian.AppendUint64(raw, 0)                  // base offset
	raw = binary.BigEndian.AppendUint32(raw, 0)                  // length, below
	raw = binary.BigEndian.AppendUint32(raw, math.MaxUint32)     // partition leader epoch -1
	raw = append(raw, 2)                                         // magic
	raw = binary.BigEndian.AppendUint32(raw, 0)                  // crc, below
	raw = binary.BigEndian.AppendUint16(raw, markerAttributes)   // attributes
	raw = binary.BigEndian.AppendUint32(raw, 0)                  // last offset delta
	raw = binary.BigEndian.AppendUint64(raw, uint64(now))        // first timestamp
	raw = binary.BigEndian.AppendUint64(raw, uint64(now))        // max timestamp
	raw = binary.BigEndian.AppendUint64(raw, uint64(producerID)) // producer id
	raw = binary.BigEndian.AppendUint16(raw, uint16(epoch))      // producer epoch
	raw = binary.BigEndian.AppendUint32(raw, math.MaxUint32)     // base sequence -1
	raw = binary.BigEndian.AppendUint32(raw, 1)                  // records
	raw = append(raw, record...)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[batchOffAttributes:], crc32c))
	return storage.Batch{
		Raw: raw, NumRecords: 1, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: producerID, ProducerEpoch: epoch, BaseSequence: -1,
		Transactional: true, Control: true, ControlType: typ,
	}
}

// runTxnTimeouts aborts, until ctx ends, the transactions this broker
// coordinates that outlived their timeout (transaction.timeout.ms), at a
// new epoch so that the producer is fenced, and completes those a failed
// broker left half ended. Less often, it forgets the transactional ids
// idle for longer than TransactionalIDExpiration.
func (b *Broker) runTxnTimeouts(ctx context.Context) {
	ts := b.txnStore()
	if ts == nil {
		return
	}
	tick := time.NewTicker(txnTimeoutScanEvery)
	defer tick.Stop()
	sweepEvery := txnIDSweepEvery(b.cfg.TransactionalIDExpiration)
	var lastSweep time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		b.expireTxns(ctx, ts)
		if now := time.Now(); now.Sub(lastSweep) >= sweepEvery {
			lastSweep = now
			b.forgetIdleTxnIDs(ctx, ts)
		}
	}
}

// txnIDSweepEvery is how often idle transactional ids are looked for: a
// tenth of their expiration, at most once per pass of the timeouts and at
// least once an hour (Kafka's
// transaction.remove.expired.transaction.cleanup.interval.ms).
func txnIDSweepEvery(expiration time.Duration) time.Duration {
	return min(max(expiration/10, txnTimeoutScanEvery), time.Hour)
}

// forgetIdleTxnIDs deletes the transactional ids this broker coordinates
// that have had no transaction under way and no change for longer than
// TransactionalIDExpiration, as Kafka does. Each goes only as listed: one
// that a producer initialised again meanwhile, here or at another broker,
// is kept.
func (b *Broker) forgetIdleTxnIDs(ctx context.Context, ts storage.Transactions) {
	idle, err := ts.IdleTransactions(ctx, nowMs()-b.cfg.TransactionalIDExpiration.Milliseconds())
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("list idle transactional ids", "err", err)
		}
		return
	}
	for _, ct := range idle {
		if !b.coordinatesTxn(ct.Cluster, ct.TransactionalID) {
			continue
		}
		err := b.forgetTxnID(ctx, ts, ct)
		if err != nil && !errors.Is(err, storage.ErrTxnConflict) && ctx.Err() == nil {
			b.log.Warn("forget idle transactional id", "cluster", ct.Cluster, "transactional_id", ct.TransactionalID, "err", err)
		}
	}
}

// forgetTxnID deletes one idle transactional id under its lock, if it is
// still as listed.
func (b *Broker) forgetTxnID(ctx context.Context, ts storage.Transactions, ct storage.ClusterTransaction) error {
	defer b.txns.lock(ct.Cluster, ct.TransactionalID)()
	if err := ts.DeleteTransaction(ctx, ct.Cluster, ct.Transaction); err != nil {
		return err
	}
	b.log.Info("forgot idle transactional id", "cluster", ct.Cluster, "transactional_id", ct.TransactionalID,
		"producer_id", ct.ProducerID, "idle_ms", nowMs()-ct.UpdateTime)
	return nil
}

// expireTxns is one pass of runTxnTimeouts.
func (b *Broker) expireTxns(ctx context.Context, ts storage.Transactions) {
	now := nowMs()
	open, err := ts.OngoingTransactions(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("list ongoing transactions", "err", err)
		}
		return
	}
	for _, ct := range open {
		if !b.coordinatesTxn(ct.Cluster, ct.TransactionalID) || !txnExpired(ct.Transaction, now) {
			continue
		}
		if err := b.expireTxn(ctx, ct.Cluster, ct.TransactionalID); err != nil && ctx.Err() == nil {
			b.log.Warn("abort timed out transaction", "cluster", ct.Cluster, "transactional_id", ct.TransactionalID, "err", err)
		}
	}
}

// txnExpired reports whether the timeout pass should end t now.
func txnExpired(t storage.Transaction, now int64) bool {
	switch t.State {
	case storage.TxnOngoing:
		return t.StartTime >= 0 && now > t.StartTime+int64(t.TimeoutMs)
	case storage.TxnPrepareCommit, storage.TxnPrepareAbort:
		return now > t.UpdateTime+txnPrepareStale.Milliseconds()
	}
	return false
}

// expireTxn ends one transaction found by the timeout pass, if it is still
// as found once its lock is held.
func (b *Broker) expireTxn(ctx context.Context, cluster, id string) error {
	ts := b.txnStore()
	defer b.txns.lock(cluster, id)()
	t, found, err := ts.Transaction(ctx, cluster, id)
	if err != nil || !found || !txnExpired(t, nowMs()) {
		return err
	}
	if t.State != storage.TxnOngoing {
		return b.endTxn(ctx, cluster, &t, t.State == storage.TxnPrepareCommit)
	}
	b.log.Info("aborting timed out transaction", "cluster", cluster, "transactional_id", id,
		"producer_id", t.ProducerID, "timeout_ms", t.TimeoutMs)
	fenceEpoch(&t)
	return b.endTxn(ctx, cluster, &t, false)
}

// txnRequestCode checks what every request to the transaction coordinator
// needs: transactions kept somewhere, WRITE on the transactional id and
// this broker coordinating it.
func (b *Broker) txnRequestCode(ctx context.Context, r *request, id string) int16 {
	switch {
	case b.txnStore() == nil || !b.allowed(ctx, r, acl.ResourceTransactionalID, id, acl.OpWrite):
		return kerr.TransactionalIDAuthorizationFailed.Code
	case id == "":
		return kerr.InvalidRequest.Code
	case !b.coordinatesTxn(r.cluster(), id):
		return kerr.NotCoordinator.Code
	}
	return 0
}

// updateTxn applies change to the transaction of id under its lock, after
// checking the producer, and saves it. change returns a Kafka error code,
// which leaves the transaction unsaved.
func (b *Broker) updateTxn(ctx context.Context, r *request, id string, producerID int64, epoch int16, fencedCode bool, change func(t *storage.Transaction) int16) int16 {
	ts := b.txnStore()
	defer b.txns.lock(r.cluster(), id)()
	t, found, err := ts.Transaction(ctx, r.cluster(), id)
	if err != nil {
		return b.txnStorageCode(ctx, r, "load transaction", err)
	}
	if !found {
		return kerr.InvalidProducerIDMapping.Code
	}
	if code := checkTxnProducer(t, producerID, epoch, fencedCode); code != 0 {
		return code
	}
	if code := change(&t); code != 0 {
		return code
	}
	if err := ts.SaveTransaction(ctx, r.cluster(), &t); err != nil {
		return b.txnStorageCode(ctx, r, "save transaction", err)
	}
	return 0
}
