package benchkit

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Ratios are a run's figures against Dovecot measured in the same run, by
// name ("lmtp embedded 1 rcpt"): quire's figure over Dovecot's, so that
// larger is better for every one. bench/quick reads them to hold the
// targets.
type Ratios map[string]float64

// RatiosFlag registers -ratios, the file a benchmark writes its Ratios to.
func RatiosFlag(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "ratios", "", "also write the ratios to Dovecot as JSON to this file (for bench/quick)")
}

// Add records quire/dovecot under name, when both are positive.
func (r Ratios) Add(name string, quire, dovecot float64) {
	if quire > 0 && dovecot > 0 {
		r[name] = quire / dovecot
	}
}

// Write writes the ratios as JSON to path; nothing when path is empty.
func (r Ratios) Write(path string) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("ratios: %w", err)
	}
	return nil
}

// ReadRatios reads a file Write wrote.
func ReadRatios(path string) (Ratios, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := Ratios{}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("ratios %s: %w", path, err)
	}
	return r, nil
}

// Short is the target name a Label came from ("embedded" for
// "quire (embedded)"), the form ratio names use.
func Short(label string) string {
	for _, n := range TargetNames {
		if Label(n) == label {
			return n
		}
	}
	return label
}

// AgainstDovecot names each quire target's figure over Dovecot's
// "bench target" ("imap embedded"): labels are the targets' report labels,
// figure(i) the figure of labels[i], 0 for a target that did not run.
func AgainstDovecot(bench string, labels []string, figure func(i int) float64) Ratios {
	out := Ratios{}
	d := slices.Index(labels, Label("dovecot"))
	if d < 0 {
		return out
	}
	for i, l := range labels {
		if i != d {
			out.Add(bench+" "+Short(l), figure(i), figure(d))
		}
	}
	return out
}
