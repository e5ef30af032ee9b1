// Package metrics exposes Quire's counters to Prometheus (GET /metrics of
// every role's HTTP listener; the list is docs/METRICS.md).
//
// It is the only package that imports the Prometheus client. The protocol
// servers, the store backends and the notifier each define a small
// Observer interface of their own and call it; the types here implement
// those interfaces, so those packages stay free of the client. Components
// that already keep statistics (the converter, the indexer, the notifier,
// the login checks, the accept loops) are read at scrape time by a
// Collector: nothing is counted twice.
//
// Invariants:
//   - The hot-path observers (Commands, Deliveries, Cassandra) resolve
//     every label child when they are made: an observation is a map
//     lookup of a name, an atomic add and a histogram bucket, with no
//     allocation and no lock shared between sessions.
//   - Label values come from fixed sets (command names the server knows,
//     else "other"; reply classes; query classes; the configured peers and
//     converter hosts; the proxy's groups and hosts of
//     store.storehostlist): a client cannot grow the number of series.
//   - A Registry has no package-level state: tests and several servers in
//     one process each make their own.
package metrics

import (
	"net/http"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is one process's metrics: the Go runtime's and the process's,
// quire_build_info, and whatever the role adds.
type Registry struct {
	reg *prometheus.Registry
}

// New returns a Registry for a role ("serve", "isc", "proxy"), named in
// quire_build_info.
func New(role, version string) *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "quire_build_info",
		Help:        "Always 1; the labels name the role, the version and the Go release.",
		ConstLabels: prometheus.Labels{"role": role, "version": version, "goversion": runtime.Version()},
	})
	info.Set(1)
	reg.MustRegister(info)
	return &Registry{reg: reg}
}

// Register adds collectors; a name registered twice is a programming
// error and panics, at start.
func (r *Registry) Register(cs ...prometheus.Collector) { r.reg.MustRegister(cs...) }

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics, when the scraper asks for it). A collector that fails is
// reported in the answer, not as a broken scrape.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// Gatherer is the registry as tests and other exporters read it.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// latencyBuckets are the command and request histograms' bounds, in
// seconds: 1 ms to 30 s.
func latencyBuckets() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
}
