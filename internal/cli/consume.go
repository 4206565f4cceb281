package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

type consumeFlags struct {
	sc             scope
	group          string
	fromBeginning  bool
	offset         string
	partition      int32
	maxMessages    int
	printKey       bool
	printTimestamp bool
	printHeaders   bool
	printPartition bool
	printOffset    bool
	keySeparator   string
	format         string
	timeout        time.Duration
}

func newConsumeCommand(a *cliApp) *cobra.Command {
	var f consumeFlags
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records of a topic",
		Long: `Print the records of a topic as they arrive, like Kafka's console consumer, until
--max-messages records, --timeout without a record, or Ctrl-C.

Without --group the command reads partitions directly and commits nothing:
from the end (new records only), from the start with --from-beginning, or from
--offset of one --partition. With --group it joins that consumer group, starts
where the group's committed offsets are (or, for partitions without one, at
the start with --from-beginning and at the end otherwise), and commits the
offsets of the records it printed before it exits.

Each record is a line: its value, after its key with --print-key (and
--key-separator), after its timestamp, partition, offset and headers with the
--print-… flags. --format replaces all that with a template: %k key, %v value,
%o offset, %p partition, %t timestamp (ms), %T topic, %h headers (k=v,…), %%
a percent sign, \n and \t. With --output json each record is a JSON object on
its own line.`,
		Example: `  affluent kafka topic consume orders --from-beginning --print-key
  affluent kafka topic consume orders --group billing --from-beginning --max-messages 100
  affluent kafka topic consume orders --partition 0 --offset 42 --format '%p/%o %k=%v\n'
  affluent kafka topic consume orders --from-beginning --timeout 5s -o json | jq -r .value`,
		Args:              exactArgs(1, "TOPIC"),
		ValidArgsFunction: a.completeTopics,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			return a.consume(cmd, s, args[0], f)
		}),
	}
	f.sc.addFlags(a, cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.group, "group", "", "consumer group to join and commit offsets for")
	fl.BoolVar(&f.fromBeginning, "from-beginning", false, "start at the earliest offset (where the group has none, with --group)")
	fl.StringVar(&f.offset, "offset", "", "offset to start at in --partition: a number, earliest or latest")
	fl.Int32Var(&f.partition, "partition", -1, "read only this partition")
	fl.IntVar(&f.maxMessages, "max-messages", 0, "exit after this many records (0: no limit)")
	fl.BoolVar(&f.printKey, "print-key", false, "print each record's key")
	fl.BoolVar(&f.printTimestamp, "print-timestamp", false, "print each record's timestamp (CreateTime:ms)")
	fl.BoolVar(&f.printHeaders, "print-headers", false, "print each record's headers (k=v,…, or NO_HEADERS)")
	fl.BoolVar(&f.printPartition, "print-partition", false, "print each record's partition")
	fl.BoolVar(&f.printOffset, "print-offset", false, "print each record's offset")
	fl.StringVar(&f.keySeparator, "key-separator", "\t", "printed between key and value")
	fl.StringVar(&f.format, "format", "", "template of each record's line: %k %v %o %p %t %T %h")
	fl.DurationVar(&f.timeout, "timeout", 0, "exit when no record arrives for this long (0: wait forever)")
	return cmd
}

// startOffset is where to start reading without a committed offset.
func (f consumeFlags) startOffset() (kgo.Offset, error) {
	switch {
	case f.offset == "" && f.fromBeginning, f.offset == "earliest":
		return kgo.NewOffset().AtStart(), nil
	case f.offset == "", f.offset == "latest":
		return kgo.NewOffset().AtEnd(), nil
	}
	n, err := strconv.ParseInt(f.offset, 10, 64)
	if err != nil || n < 0 {
		return kgo.Offset{}, usageError{fmt.Errorf("--offset %q: want a non-negative number, earliest or latest", f.offset)}
	}
	return kgo.NewOffset().At(n), nil
}

func (f consumeFlags) validate() error {
	switch {
	case f.group != "" && f.partition >= 0:
		return usageError{errors.New("--group and --partition do not go together: a group assigns partitions itself")}
	case f.group != "" && f.offset != "":
		return usageError{errors.New("--group and --offset do not go together: a group starts at its committed offsets")}
	case f.offset != "" && f.partition < 0:
		return usageError{errors.New("--offset needs --partition")}
	case f.offset != "" && f.fromBeginning:
		return usageError{errors.New("--offset and --from-beginning do not go together")}
	case f.maxMessages < 0:
		return usageError{errors.New("--max-messages must not be negative")}
	case f.format != "" && (f.printKey || f.printTimestamp || f.printHeaders || f.printPartition || f.printOffset):
		return usageError{errors.New("--format replaces the --print-… flags; give one or the other")}
	}
	return nil
}

func (a *cliApp) consume(cmd *cobra.Command, s *session, topic string, f consumeFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	start, err := f.startOffset()
	if err != nil {
		return err
	}
	env, cluster, err := s.cluster(f.sc.env, f.sc.cluster)
	if err != nil {
		return err
	}
	var opts []kgo.Opt
	switch {
	case f.group != "":
		opts = append(opts, kgo.ConsumerGroup(f.group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start),
			// Only what was printed is committed, when the command ends.
			kgo.AutoCommitMarks(), kgo.AutoCommitInterval(time.Second))
	case f.partition >= 0:
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {f.partition: start}}))
	default:
		opts = append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start))
	}
	cl, err := s.kafkaClient(cmd.Context(), env, cluster, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx := cmd.Context()
	if err := requireTopic(ctx, cl, topic); err != nil {
		return err
	}

	out := cmd.OutOrStdout()
	write := a.recordWriter(out, f)
	count := 0
	var runErr error
poll:
	for f.maxMessages == 0 || count < f.maxMessages {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if f.timeout > 0 {
			pollCtx, cancel = context.WithTimeout(ctx, f.timeout)
		}
		n := -1
		if f.maxMessages > 0 {
			n = f.maxMessages - count
		}
		fetches := cl.PollRecords(pollCtx, n)
		timedOut := pollCtx.Err() != nil && ctx.Err() == nil
		cancel()
		if ctx.Err() != nil || timedOut || fetches.IsClientClosed() {
			break
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
				continue
			}
			runErr = fmt.Errorf("consume %s: %w", topic, fe.Err)
			break poll
		}
		for _, r := range fetches.Records() {
			if err := write(r); err != nil {
				runErr = err
				break poll
			}
			if f.group != "" {
				cl.MarkCommitRecords(r)
			}
			count++
		}
	}
	if f.group != "" {
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := cl.CommitMarkedOffsets(commitCtx); err != nil && runErr == nil {
			runErr = fmt.Errorf("commit offsets of group %s: %w", f.group, err)
		}
		// Leaving is best effort: the member's session times out anyway.
		_ = cl.LeaveGroupContext(commitCtx)
	}
	fmt.Fprintf(a.stderr, "Processed a total of %d messages\n", count)
	return runErr
}

// consumedRecord is a record as --output json prints it.
type consumedRecord struct {
	Topic     string         `json:"topic"`
	Partition int32          `json:"partition"`
	Offset    int64          `json:"offset"`
	Timestamp int64          `json:"timestamp"`
	Key       *string        `json:"key"`
	Value     *string        `json:"value"`
	Headers   []recordHeader `json:"headers"`
}

type recordHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func strPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// recordWriter returns the function that prints one record in the format
// the flags ask for.
func (a *cliApp) recordWriter(w io.Writer, f consumeFlags) func(*kgo.Record) error {
	switch a.output {
	case formatJSON, formatYAML:
		p := printer{format: a.output, w: w}
		enc := json.NewEncoder(w)
		return func(r *kgo.Record) error {
			cr := consumedRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(),
				Key: strPtr(r.Key), Value: strPtr(r.Value), Headers: []recordHeader{}}
			for _, h := range r.Headers {
				cr.Headers = append(cr.Headers, recordHeader{h.Key, string(h.Value)})
			}
			if a.output == formatJSON {
				return enc.Encode(cr) // one compact object per line
			}
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
			raw, _ := json.Marshal(cr)
			return p.data(raw)
		}
	}
	if f.format != "" {
		tmpl := unescape(f.format)
		if !strings.HasSuffix(tmpl, "\n") {
			tmpl += "\n"
		}
		return func(r *kgo.Record) error {
			_, err := io.WriteString(w, formatRecord(tmpl, r))
			return err
		}
	}
	return func(r *kgo.Record) error {
		var b strings.Builder
		if f.printTimestamp {
			fmt.Fprintf(&b, "CreateTime:%d\t", r.Timestamp.UnixMilli())
		}
		if f.printPartition {
			fmt.Fprintf(&b, "Partition:%d\t", r.Partition)
		}
		if f.printOffset {
			fmt.Fprintf(&b, "Offset:%d\t", r.Offset)
		}
		if f.printHeaders {
			b.WriteString(formatHeaders(r.Headers, "NO_HEADERS"))
			b.WriteByte('\t')
		}
		if f.printKey {
			if r.Key == nil {
				b.WriteString("null")
			} else {
				b.Write(r.Key)
			}
			b.WriteString(f.keySeparator)
		}
		b.Write(r.Value)
		b.WriteByte('\n')
		_, err := io.WriteString(w, b.String())
		return err
	}
}

func formatHeaders(hs []kgo.RecordHeader, none string) string {
	if len(hs) == 0 {
		return none
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.Key + "=" + string(h.Value)
	}
	return strings.Join(parts, ",")
}

// unescape reads \n, \t and \\ in a --format template.
func unescape(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(s)
}

// formatRecord fills a --format template.
func formatRecord(tmpl string, r *kgo.Record) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' || i+1 == len(tmpl) {
			b.WriteByte(c)
			continue
		}
		i++
		switch tmpl[i] {
		case 'k':
			b.Write(r.Key)
		case 'v', 's':
			b.Write(r.Value)
		case 'o':
			b.WriteString(strconv.FormatInt(r.Offset, 10))
		case 'p':
			b.WriteString(strconv.FormatInt(int64(r.Partition), 10))
		case 't':
			b.WriteString(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
		case 'T':
			b.WriteString(r.Topic)
		case 'h':
			b.WriteString(formatHeaders(r.Headers, ""))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(tmpl[i])
		}
	}
	return b.String()
}
