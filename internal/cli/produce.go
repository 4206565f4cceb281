package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxLine bounds one line of produce input (and so one record).
const maxLine = 8 << 20

type produceFlags struct {
	sc           scope
	parseKey     bool
	keySeparator string
	headers      []string
	valueFile    string
	key          string
	partition    int32
}

func newProduceCommand(a *cliApp) *cobra.Command {
	var f produceFlags
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records read from stdin, one per line",
		Long: `Produce one record per line of stdin until end of input (Ctrl-D), like Kafka's
console producer. With --parse-key each line is KEY<separator>VALUE, split at
the first separator. --value-file produces one record whose value is a file's
whole content instead. Records go through the Kafka protocol with the context's
Kafka API key for the cluster (SASL/PLAIN); the command ends once every record
is acknowledged, and fails if any is not.`,
		Example: `  printf 'k1,first order\nk2,second order\n' | affluent kafka topic produce orders --parse-key --key-separator ,
  affluent kafka topic produce orders --header source=cli --header trace=abc < lines.txt
  affluent kafka topic produce images --key cat.png --value-file cat.png`,
		Args:              exactArgs(1, "TOPIC"),
		ValidArgsFunction: a.completeTopics,
		RunE: a.withSession(func(cmd *cobra.Command, s *session, args []string) error {
			return a.produce(cmd, s, args[0], f)
		}),
	}
	f.sc.addFlags(a, cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.parseKey, "parse-key", false, "split each line into key and value at --key-separator")
	fl.StringVar(&f.keySeparator, "key-separator", ":", "separator of key and value with --parse-key")
	fl.StringArrayVar(&f.headers, "header", nil, "record header key=value (repeatable)")
	fl.StringVar(&f.valueFile, "value-file", "", "produce one record with this file's content as value (stdin is not read)")
	fl.StringVar(&f.key, "key", "", "key of the --value-file record")
	fl.Int32Var(&f.partition, "partition", -1, "partition to produce to (default: by key hash, or spread when keyless)")
	_ = cmd.MarkFlagFilename("value-file")
	return cmd
}

type produceResult struct {
	Topic   string `json:"topic"`
	Records int64  `json:"records"`
}

func (a *cliApp) produce(cmd *cobra.Command, s *session, topic string, f produceFlags) error {
	if f.keySeparator == "" {
		return usageError{errors.New("--key-separator must not be empty")}
	}
	if f.valueFile != "" && f.parseKey {
		return usageError{errors.New("--value-file and --parse-key do not go together: the file is one value; give its key with --key")}
	}
	if f.key != "" && f.valueFile == "" {
		return usageError{errors.New("--key goes with --value-file; for lines use --parse-key")}
	}
	var headers []kgo.RecordHeader
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return usageError{fmt.Errorf("--header %q: want key=value", h)}
		}
		headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	env, cluster, err := s.cluster(f.sc.env, f.sc.cluster)
	if err != nil {
		return err
	}
	opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5 * time.Millisecond)}
	if f.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
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

	// Records are produced asynchronously; the first failure is kept and
	// stops reading.
	var (
		mu       sync.Mutex // guards firstErr and acked
		firstErr error
		acked    int64
	)
	failed := func() error { mu.Lock(); defer mu.Unlock(); return firstErr }
	send := func(key, value []byte) {
		r := &kgo.Record{Key: key, Value: value, Headers: headers, Partition: f.partition}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if err == nil {
				acked++
			}
		})
	}

	if f.valueFile != "" {
		value, err := os.ReadFile(f.valueFile)
		if err != nil {
			return usageError{fmt.Errorf("--value-file: %w", err)}
		}
		var key []byte
		if f.key != "" {
			key = []byte(f.key)
		}
		send(key, value)
	} else {
		in := cmd.InOrStdin()
		if isTerminal(in) {
			fmt.Fprintln(a.stderr, "Reading records from stdin, one per line; Ctrl-D to end.")
		}
		lines := bufio.NewScanner(in)
		lines.Buffer(make([]byte, 64<<10), maxLine)
		n := 0
		for lines.Scan() && ctx.Err() == nil && failed() == nil {
			n++
			line := lines.Text()
			var key []byte
			value := line
			if f.parseKey {
				k, v, ok := strings.Cut(line, f.keySeparator)
				if !ok {
					_ = cl.Flush(ctx)
					return fmt.Errorf("line %d has no key separator %q (produced %d records before it)", n, f.keySeparator, n-1)
				}
				key, value = []byte(k), v
			}
			send(key, []byte(value))
		}
		if err := lines.Err(); err != nil {
			_ = cl.Flush(ctx)
			return fmt.Errorf("read stdin: %w", err)
		}
	}
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := cl.Flush(flushCtx); err != nil {
		return fmt.Errorf("produce to %s: not every record was acknowledged: %w", topic, err)
	}
	if err := failed(); err != nil {
		return fmt.Errorf("produce to %s: %w (%d records acknowledged)", topic, err, acked)
	}
	return a.printer(cmd).message(produceResult{Topic: topic, Records: acked}, "Produced %d records to topic %q.", acked, topic)
}
