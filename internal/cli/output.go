package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Output formats of --output.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

var outputFormats = []string{formatTable, formatJSON, formatYAML}

// printer writes command results in one format. JSON is indented with two
// spaces, keys in a fixed order (proto field order, or struct order), field
// names snake_case as in the REST API; YAML is the same document.
type printer struct {
	format string
	w      io.Writer
}

// column is one column of a table (or row of a description) of T.
type column[T any] struct {
	header string
	value  func(T) string
}

// protoJSON is the stable JSON of a resource: proto field names, every
// field present (zero values included), compact.
func protoJSON(m proto.Message) []byte {
	raw, err := protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true}.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", m, err)) // only invalid UTF-8 fails; the API never sends it
	}
	var out bytes.Buffer
	// protojson randomizes whitespace on purpose; compact makes it stable.
	_ = json.Compact(&out, raw)
	return out.Bytes()
}

// data prints a JSON document as JSON or YAML.
func (p printer) data(doc []byte) error {
	switch p.format {
	case formatYAML:
		var node yaml.Node
		if err := yaml.Unmarshal(doc, &node); err != nil {
			return err
		}
		blockStyle(&node)
		enc := yaml.NewEncoder(p.w)
		enc.SetIndent(2)
		if err := enc.Encode(&node); err != nil {
			return err
		}
		return enc.Close()
	default:
		var out bytes.Buffer
		if err := json.Indent(&out, doc, "", "  "); err != nil {
			return err
		}
		out.WriteByte('\n')
		_, err := p.w.Write(out.Bytes())
		return err
	}
}

// blockStyle turns JSON's flow style into YAML's block style (strings that
// need quotes keep them: the encoder adds them).
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// value prints any JSON-marshalable value (for results that are not API
// resources) as JSON or YAML, or as a table with table.
func (p printer) value(v any, table func(w io.Writer)) error {
	if p.format == formatTable {
		tw := newTabWriter(p.w)
		table(tw)
		return tw.Flush()
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return p.data(raw)
}

func newTabWriter(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0) }

// printOne prints one resource: as JSON/YAML, or a two-column table of
// the given fields.
func printOne[T proto.Message](p printer, item T, fields []column[T]) error {
	if p.format != formatTable {
		return p.data(protoJSON(item))
	}
	tw := newTabWriter(p.w)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s\t%s\n", f.header, cell(f.value(item)))
	}
	return tw.Flush()
}

// printList prints resources: a JSON/YAML array, or a table with a header.
func printList[T proto.Message](p printer, items []T, cols []column[T]) error {
	if p.format != formatTable {
		var doc bytes.Buffer
		doc.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				doc.WriteByte(',')
			}
			doc.Write(protoJSON(it))
		}
		doc.WriteByte(']')
		return p.data(doc.Bytes())
	}
	tw := newTabWriter(p.w)
	headers := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c.header
	}
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(headers, "\t")))
	for _, it := range items {
		vals := make([]string, len(cols))
		for i, c := range cols {
			vals[i] = cell(c.value(it))
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t"))
	}
	return tw.Flush()
}

// cell keeps a table cell on one line.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("\n", " ", "\t", " ").Replace(s)
}

// timestamp shows a time in UTC, to the second.
func timestamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

// message prints a human line in table format only; JSON and YAML print v.
func (p printer) message(v any, format string, args ...any) error {
	if p.format == formatTable {
		_, err := fmt.Fprintf(p.w, format+"\n", args...)
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return p.data(raw)
}
