package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Proxy counts what quire proxy does: it is the proxy.Observer. Its calls
// are per login, routed session, connection to an access host and LMTP
// recipient, never per command. The login results and reply classes are
// resolved when it is made; the group and host labels (the configured
// store.storehostlist, a fixed set) are looked up in their vectors.
type Proxy struct {
	logins   map[string]map[string]prometheus.Counter // protocol → result; read-only after NewProxy
	routed   *prometheus.CounterVec
	connects *prometheus.CounterVec
	skips    *prometheus.CounterVec
	latency  [2]prometheus.Observer // [failed]
	txs      map[string]prometheus.Counter
	txOther  prometheus.Counter
	rcpts    [4]prometheus.Counter // 2xx, 4xx, 5xx, other
	loginVec *prometheus.CounterVec
}

// proxyLoginResults are proxy.Observer's login results.
func proxyLoginResults() []string { return []string{"ok", "failed", "refused", "unavailable"} }

// NewProxy registers the proxy's metrics (docs/METRICS.md, "Proxy").
func NewProxy(r *Registry) *Proxy {
	logins := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_proxy_logins_total",
		Help: "IMAP and POP3 logins at the proxy, by protocol and result: ok (the access host accepted), failed (unknown user or wrong password, at the proxy), refused (by the access host), unavailable (no host, the directory, busy).",
	}, []string{"protocol", "result"})
	routed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_proxy_routed_sessions_total",
		Help: "Sessions carried to an access host (IMAP and POP3 logins, LMTP transactions per group), by protocol, store affinity group and host.",
	}, []string{"protocol", "group", "host"})
	connects := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_proxy_host_connects_total",
		Help: "Connections to access hosts (connect and greeting), by host:port and result (error: the host was then skipped for proxy.host_retry).",
	}, []string{"host", "result"})
	skips := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_proxy_host_skips_total",
		Help: "Times a host was tried last because it failed within proxy.host_retry, by host:port.",
	}, []string{"host"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "quire_proxy_connect_duration_seconds",
		Help:    "Time to connect to an access host and read its greeting, each attempt, by result.",
		Buckets: latencyBuckets(),
	}, []string{"result"})
	txs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_proxy_lmtp_transactions_total",
		Help: "LMTP transactions with a store affinity group's host, by result: ok, no_host (no host answered: 451 for its recipients), broken (the connection failed midway).",
	}, []string{"result"})
	rcpts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_proxy_lmtp_recipients_total",
		Help: "Recipients' replies at the end of DATA, by reply class (2xx delivered, 4xx try again, 5xx refused).",
	}, []string{"class"})
	r.Register(logins, routed, connects, skips, dur, txs, rcpts)
	p := &Proxy{logins: map[string]map[string]prometheus.Counter{}, routed: routed, connects: connects, skips: skips,
		txs: map[string]prometheus.Counter{}, txOther: txs.WithLabelValues("other"), loginVec: logins}
	for _, proto := range []string{"imap", "pop3"} {
		p.logins[proto] = map[string]prometheus.Counter{}
		for _, res := range proxyLoginResults() {
			p.logins[proto][res] = logins.WithLabelValues(proto, res)
		}
	}
	p.latency[0], p.latency[1] = dur.WithLabelValues("ok"), dur.WithLabelValues("error")
	for _, res := range []string{"ok", "no_host", "broken"} {
		p.txs[res] = txs.WithLabelValues(res)
	}
	for i, c := range []string{"2xx", "4xx", "5xx", "other"} {
		p.rcpts[i] = rcpts.WithLabelValues(c)
	}
	return p
}

// Login counts one login.
func (p *Proxy) Login(protocol, result string) {
	if c := p.logins[protocol][result]; c != nil {
		c.Inc()
		return
	}
	p.loginVec.WithLabelValues(protocol, result).Inc()
}

// Routed counts a session carried to host.
func (p *Proxy) Routed(protocol, group, host string) {
	p.routed.WithLabelValues(protocol, group, host).Inc()
}

// Connect counts one connection attempt and its time.
func (p *Proxy) Connect(host string, took time.Duration, err error) {
	res, i := "ok", 0
	if err != nil {
		res, i = "error", 1
	}
	p.connects.WithLabelValues(host, res).Inc()
	p.latency[i].Observe(took.Seconds())
}

// Skipped counts a host tried last.
func (p *Proxy) Skipped(host string) { p.skips.WithLabelValues(host).Inc() }

// LMTPTransaction counts one group's transaction.
func (p *Proxy) LMTPTransaction(result string) {
	if c := p.txs[result]; c != nil {
		c.Inc()
		return
	}
	p.txOther.Inc()
}

// LMTPRecipient counts one recipient's reply by its class.
func (p *Proxy) LMTPRecipient(code string) { p.rcpts[replyClass(code)].Inc() }
