package tiered

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Topic configs the engine acts on, with Kafka's defaults except where the
// Config says otherwise (segment.bytes, segment.ms).
const (
	configCleanupPolicy        = "cleanup.policy"
	configRetentionMs          = "retention.ms"
	configRetentionBytes       = "retention.bytes"
	configSegmentBytes         = "segment.bytes"
	configSegmentMs            = "segment.ms"
	configDeleteRetentionMs    = "delete.retention.ms"
	configMinCompactionLagMs   = "min.compaction.lag.ms"
	configMaxCompactionLagMs   = "max.compaction.lag.ms"
	configMinCleanableRatio    = "min.cleanable.dirty.ratio"
	configLocalRetentionMs     = "local.retention.ms"
	configLocalRetentionBytes  = "local.retention.bytes"
	defaultRetention           = 7 * 24 * time.Hour
	defaultDeleteRetention     = 24 * time.Hour
	defaultMinCleanableRatio   = 0.5
	localRetentionAsRetention  = -2 // local.retention.*: use retention.*
	retentionForever           = -1
	defaultLocalRetentionValue = localRetentionAsRetention
)

// topicPolicy is what a topic's configs ask of the compactor, resolved
// against defaults. Durations are in ms; -1 means no limit.
type topicPolicy struct {
	delete, compact     bool // cleanup.policy
	retentionMs         int64
	retentionBytes      int64
	segmentBytes        int64
	segmentMs           int64
	deleteRetentionMs   int64
	minCompactionLagMs  int64
	maxCompactionLagMs  int64
	minCleanableRatio   float64
	localRetentionMs    int64 // resolved: never -2
	localRetentionBytes int64 // resolved: never -2
}

// policyOf resolves configs. A value that does not parse (the broker
// validates them, so only a hand-edited DB has one) counts as unset.
func (c *Config) policyOf(configs map[string]string) topicPolicy {
	p := topicPolicy{
		delete:             true,
		retentionMs:        defaultRetention.Milliseconds(),
		retentionBytes:     retentionForever,
		segmentBytes:       c.DefaultSegmentBytes,
		segmentMs:          c.DefaultSegmentAge.Milliseconds(),
		deleteRetentionMs:  defaultDeleteRetention.Milliseconds(),
		maxCompactionLagMs: math.MaxInt64,
		minCleanableRatio:  defaultMinCleanableRatio,
	}
	if v, ok := configs[configCleanupPolicy]; ok {
		p.delete, p.compact = false, false
		for _, part := range strings.Split(v, ",") {
			switch strings.TrimSpace(part) {
			case "delete":
				p.delete = true
			case "compact":
				p.compact = true
			}
		}
		if !p.delete && !p.compact {
			p.delete = true
		}
	}
	long := func(name string, into *int64, min int64) {
		if v, ok := configs[name]; ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= min {
				*into = n
			}
		}
	}
	long(configRetentionMs, &p.retentionMs, -1)
	long(configRetentionBytes, &p.retentionBytes, -1)
	long(configSegmentBytes, &p.segmentBytes, 14)
	long(configSegmentMs, &p.segmentMs, 1)
	long(configDeleteRetentionMs, &p.deleteRetentionMs, 0)
	long(configMinCompactionLagMs, &p.minCompactionLagMs, 0)
	long(configMaxCompactionLagMs, &p.maxCompactionLagMs, 1)
	if v, ok := configs[configMinCleanableRatio]; ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
			p.minCleanableRatio = f
		}
	}
	localMs, localBytes := int64(defaultLocalRetentionValue), int64(defaultLocalRetentionValue)
	long(configLocalRetentionMs, &localMs, -2)
	long(configLocalRetentionBytes, &localBytes, -2)
	if localMs == localRetentionAsRetention {
		localMs = p.retentionMs
	}
	if localBytes == localRetentionAsRetention {
		localBytes = p.retentionBytes
	}
	p.localRetentionMs, p.localRetentionBytes = localMs, localBytes
	return p
}

// openSegment reports whether a segment may still grow by merging: not
// full and younger than segment.ms.
func (p topicPolicy) openSegment(seg segmentRow, nowMs int64) bool {
	return !seg.sealed && seg.size < p.segmentBytes && nowMs-seg.firstAppend < p.segmentMs
}
