package broker

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// configSpec describes one topic config: its type, Kafka's default, the
// broker config that supplies the default (its synonym), documentation and
// how a value is checked.
type configSpec struct {
	name          string
	typ           kmsg.ConfigType
	defaultValue  string
	brokerSynonym string // empty when there is none
	doc           string
	check         func(value string) error
}

// topicConfigs are the topic configs we know, sorted by name as
// DescribeConfigs lists them. Anything else is INVALID_CONFIG.
var topicConfigs = sortedSpecs([]configSpec{
	{"cleanup.policy", kmsg.ConfigTypeList, "delete", "log.cleanup.policy",
		"A string that is either \"delete\" or \"compact\" or both. Retention policy to use on old log segments.",
		listOf("delete", "compact")},
	{"compression.type", kmsg.ConfigTypeString, "producer", "compression.type",
		"The final compression type for a topic: 'uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', or 'producer' to retain the producer's codec.",
		oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")},
	{"delete.retention.ms", kmsg.ConfigTypeLong, "86400000", "log.cleaner.delete.retention.ms",
		"How long delete tombstone markers are retained for log compacted topics.",
		longAtLeast(0)},
	{"file.delete.delay.ms", kmsg.ConfigTypeLong, "60000", "log.segment.delete.delay.ms",
		"The time to wait before deleting a file from the filesystem.",
		longAtLeast(0)},
	{"flush.messages", kmsg.ConfigTypeLong, "9223372036854775807", "log.flush.interval.messages",
		"Accepted for compatibility; every acknowledged write is already durable in object storage.",
		longAtLeast(1)},
	{"flush.ms", kmsg.ConfigTypeLong, "9223372036854775807", "log.flush.interval.ms",
		"Accepted for compatibility; every acknowledged write is already durable in object storage.",
		longAtLeast(0)},
	{"index.interval.bytes", kmsg.ConfigTypeInt, "4096", "log.index.interval.bytes",
		"How frequently an entry is added to the offset index.",
		intAtLeast(0)},
	{"local.retention.bytes", kmsg.ConfigTypeLong, "-2", "log.local.retention.bytes",
		"The maximum size of local log segments before they are deleted; -2 means retention.bytes.",
		longAtLeast(-2)},
	{"local.retention.ms", kmsg.ConfigTypeLong, "-2", "log.local.retention.ms",
		"How long local log segments are kept before they are deleted; -2 means retention.ms.",
		longAtLeast(-2)},
	{"max.compaction.lag.ms", kmsg.ConfigTypeLong, "9223372036854775807", "log.cleaner.max.compaction.lag.ms",
		"The maximum time a message remains ineligible for compaction in the log.",
		longAtLeast(1)},
	{"max.message.bytes", kmsg.ConfigTypeInt, "1048588", "message.max.bytes",
		"The largest record batch size allowed.",
		intAtLeast(0)},
	{"message.timestamp.after.max.ms", kmsg.ConfigTypeLong, "9223372036854775807", "log.message.timestamp.after.max.ms",
		"The maximum allowed difference between a later message timestamp and the broker's timestamp.",
		longAtLeast(0)},
	{"message.timestamp.before.max.ms", kmsg.ConfigTypeLong, "9223372036854775807", "log.message.timestamp.before.max.ms",
		"The maximum allowed difference between an earlier message timestamp and the broker's timestamp.",
		longAtLeast(0)},
	{"message.timestamp.type", kmsg.ConfigTypeString, "CreateTime", "log.message.timestamp.type",
		"Whether the timestamp in the message is message create time or log append time.",
		oneOf("CreateTime", "LogAppendTime")},
	{"min.cleanable.dirty.ratio", kmsg.ConfigTypeDouble, "0.5", "log.cleaner.min.cleanable.ratio",
		"How frequently the log compactor will attempt to clean the log.",
		doubleBetween(0, 1)},
	{"min.compaction.lag.ms", kmsg.ConfigTypeLong, "0", "log.cleaner.min.compaction.lag.ms",
		"The minimum time a message will remain uncompacted in the log.",
		longAtLeast(0)},
	{"min.insync.replicas", kmsg.ConfigTypeInt, "1", "min.insync.replicas",
		"Accepted for compatibility; acknowledged writes are durable in object storage.",
		intAtLeast(1)},
	{"preallocate", kmsg.ConfigTypeBoolean, "false", "log.preallocate",
		"Accepted for compatibility; has no effect.",
		boolean},
	{"retention.bytes", kmsg.ConfigTypeLong, "-1", "log.retention.bytes",
		"The maximum size a partition can grow to before old log segments are discarded; -1 means no limit.",
		longAtLeast(-1)},
	{"retention.ms", kmsg.ConfigTypeLong, "604800000", "log.retention.ms",
		"The maximum time a log is retained before old log segments are discarded; -1 means no limit.",
		longAtLeast(-1)},
	{"segment.bytes", kmsg.ConfigTypeInt, strconv.Itoa(storage.DefaultSegmentBytes), "log.segment.bytes",
		"The segment file size for the log.",
		intAtLeast(14)},
	{"segment.index.bytes", kmsg.ConfigTypeInt, "10485760", "log.index.size.max.bytes",
		"The size of the index that maps offsets to file positions.",
		intAtLeast(4)},
	{"segment.jitter.ms", kmsg.ConfigTypeLong, "0", "log.roll.jitter.ms",
		"The maximum random jitter subtracted from the scheduled segment roll time.",
		longAtLeast(0)},
	{"segment.ms", kmsg.ConfigTypeLong, strconv.FormatInt(storage.DefaultSegmentAge.Milliseconds(), 10), "log.roll.ms",
		"The period of time after which a segment is rolled even if it is not full.",
		longAtLeast(1)},
	{"unclean.leader.election.enable", kmsg.ConfigTypeBoolean, "false", "unclean.leader.election.enable",
		"Accepted for compatibility; there are no out-of-sync replicas to elect.",
		boolean},
})

// Names of the configs the broker itself acts on.
const (
	configMaxMessageBytes      = "max.message.bytes"
	configMessageTimestampType = "message.timestamp.type"
	defaultMaxMessageBytes     = 1048588
)

var topicConfigByName = func() map[string]*configSpec {
	m := make(map[string]*configSpec, len(topicConfigs))
	for i := range topicConfigs {
		m[topicConfigs[i].name] = &topicConfigs[i]
	}
	return m
}()

func sortedSpecs(specs []configSpec) []configSpec {
	slices.SortFunc(specs, func(a, b configSpec) int { return strings.Compare(a.name, b.name) })
	return specs
}

// validateTopicConfig checks one topic config; the error, meant for
// INVALID_CONFIG, names the key.
func validateTopicConfig(name string, value *string) error {
	spec, ok := topicConfigByName[name]
	if !ok {
		return fmt.Errorf("unknown topic config name: %s", name)
	}
	if value == nil {
		return fmt.Errorf("null value not supported for topic config %s", name)
	}
	if err := spec.check(*value); err != nil {
		return fmt.Errorf("invalid value %s for configuration %s: %w", *value, name, err)
	}
	return nil
}

// topicConfigValue returns the value of a config for a topic with the given
// explicit configs: the explicit value, else the default.
func topicConfigValue(explicit map[string]string, name string) string {
	if v, ok := explicit[name]; ok {
		return v
	}
	if spec, ok := topicConfigByName[name]; ok {
		return spec.defaultValue
	}
	return ""
}

// maxMessageBytes is the largest batch a topic accepts.
func maxMessageBytes(explicit map[string]string) int64 {
	n, err := strconv.ParseInt(topicConfigValue(explicit, configMaxMessageBytes), 10, 32)
	if err != nil {
		return defaultMaxMessageBytes
	}
	return n
}

// usesLogAppendTime reports whether the broker stamps a topic's batches.
func usesLogAppendTime(explicit map[string]string) bool {
	return topicConfigValue(explicit, configMessageTimestampType) == "LogAppendTime"
}

// Value checks.

func longAtLeast(lo int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("expected a long")
		}
		if n < lo {
			return fmt.Errorf("value must be at least %d", lo)
		}
		return nil
	}
}

func intAtLeast(lo int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return fmt.Errorf("expected an int")
		}
		if n < lo {
			return fmt.Errorf("value must be at least %d", lo)
		}
		return nil
	}
}

func doubleBetween(lo, hi float64) func(string) error {
	return func(v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) {
			return fmt.Errorf("expected a double")
		}
		if f < lo || f > hi {
			return fmt.Errorf("value must be between %g and %g", lo, hi)
		}
		return nil
	}
}

func boolean(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "false":
		return nil
	}
	return fmt.Errorf("expected true or false")
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		if slices.Contains(allowed, v) {
			return nil
		}
		return fmt.Errorf("string must be one of: %s", strings.Join(allowed, ", "))
	}
}

// listOf accepts a non-empty comma-separated list of distinct allowed items.
func listOf(allowed ...string) func(string) error {
	return func(v string) error {
		items := splitList(v)
		if len(items) == 0 {
			return fmt.Errorf("list must not be empty; allowed items: %s", strings.Join(allowed, ", "))
		}
		for i, item := range items {
			if !slices.Contains(allowed, item) {
				return fmt.Errorf("list item %q is not one of: %s", item, strings.Join(allowed, ", "))
			}
			if slices.Contains(items[:i], item) {
				return fmt.Errorf("list item %q appears twice", item)
			}
		}
		return nil
	}
}

// splitList splits a LIST config value, trimming blanks.
func splitList(v string) []string {
	var items []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// brokerConfig is one read-only broker config DescribeConfigs reports.
type brokerConfig struct {
	name, value string
	typ         kmsg.ConfigType
	source      kmsg.ConfigSource
}

// brokerConfigs are the broker's configs: those the broker decides, then the
// defaults of topic configs under their broker names. None can be altered.
func (b *Broker) brokerConfigs() []brokerConfig {
	cfgs := []brokerConfig{
		{"auto.create.topics.enable", strconv.FormatBool(b.cfg.AutoCreateTopics), kmsg.ConfigTypeBoolean, kmsg.ConfigSourceStaticBrokerConfig},
		{"broker.id", strconv.Itoa(int(b.cfg.NodeID)), kmsg.ConfigTypeInt, kmsg.ConfigSourceStaticBrokerConfig},
		{"default.replication.factor", "1", kmsg.ConfigTypeShort, kmsg.ConfigSourceDefaultConfig},
		{"num.partitions", strconv.Itoa(int(b.cfg.DefaultPartitions)), kmsg.ConfigTypeInt, kmsg.ConfigSourceStaticBrokerConfig},
		{"socket.request.max.bytes", strconv.Itoa(int(b.cfg.MaxFrameBytes)), kmsg.ConfigTypeInt, kmsg.ConfigSourceStaticBrokerConfig},
	}
	for _, spec := range topicConfigs {
		known := slices.ContainsFunc(cfgs, func(c brokerConfig) bool { return c.name == spec.brokerSynonym })
		if spec.brokerSynonym != "" && !known {
			cfgs = append(cfgs, brokerConfig{spec.brokerSynonym, spec.defaultValue, spec.typ, kmsg.ConfigSourceDefaultConfig})
		}
	}
	slices.SortFunc(cfgs, func(x, y brokerConfig) int { return strings.Compare(x.name, y.name) })
	return cfgs
}

// configEntry is one config of a topic as described to clients.
type configEntry struct {
	name   string
	value  string
	source kmsg.ConfigSource
	spec   *configSpec // nil for a key we do not know (kept from elsewhere)
}

// topicConfigEntries lists every config of a topic with the given explicit
// configs: each known config with its value and whether it is the default,
// then any explicit key we do not know, sorted by name.
func topicConfigEntries(explicit map[string]string) []configEntry {
	entries := make([]configEntry, 0, len(topicConfigs))
	for i := range topicConfigs {
		spec := &topicConfigs[i]
		e := configEntry{name: spec.name, value: spec.defaultValue, source: kmsg.ConfigSourceDefaultConfig, spec: spec}
		if v, ok := explicit[spec.name]; ok {
			e.value, e.source = v, kmsg.ConfigSourceDynamicTopicConfig
		}
		entries = append(entries, e)
	}
	for name, v := range explicit {
		if _, known := topicConfigByName[name]; !known {
			entries = append(entries, configEntry{name: name, value: v, source: kmsg.ConfigSourceDynamicTopicConfig})
		}
	}
	slices.SortFunc(entries, func(x, y configEntry) int { return strings.Compare(x.name, y.name) })
	return entries
}
