package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/joule-llm/joule/engine"
)

// metrics are the server's Prometheus metrics, under vLLM's names where
// vLLM has one, so that dashboards and autoscalers built for vLLM work.
// The engine's state is read at scrape time; latencies are observed by
// the server as tokens reach it.
type metrics struct {
	reg      *prometheus.Registry
	ttft     prometheus.Observer
	itl      prometheus.Observer
	tpot     prometheus.Observer
	e2e      prometheus.Observer
	success  *prometheus.CounterVec // by finished_reason
	rejected *prometheus.CounterVec // by reason
	http     *prometheus.CounterVec // by handler and code
	inFlight prometheus.Gauge
}

// vLLM's histogram buckets, so that quantiles compare across servers.
var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
		2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	itlBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
		2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	e2eBuckets = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
		40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
)

func newMetrics(model string, stats func() engine.Stats) *metrics {
	reg := prometheus.NewRegistry()
	labels := prometheus.Labels{"model_name": model}
	hist := func(name, help string, buckets []float64) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets, ConstLabels: labels})
		reg.MustRegister(h)
		return h
	}
	m := &metrics{reg: reg}
	m.ttft = hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttftBuckets)
	m.itl = hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itlBuckets)
	// vLLM's older name for the same observations.
	m.tpot = hist("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", itlBuckets)
	m.e2e = hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", e2eBuckets)
	m.success = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vllm:request_success_total", Help: "Count of successfully processed requests.", ConstLabels: labels,
	}, []string{"finished_reason"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "joule_requests_rejected_total", Help: "Requests the engine refused, by reason.", ConstLabels: labels,
	}, []string{"reason"})
	m.http = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "joule_http_requests_total", Help: "HTTP requests answered, by handler and status code.",
	}, []string{"handler", "code"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "joule_http_requests_in_flight", Help: "HTTP requests being answered now.",
	})
	reg.MustRegister(m.success, m.rejected, m.http, m.inFlight,
		&engineCollector{stats: stats, model: model},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"stop", "length", "abort", "error"} {
		m.success.WithLabelValues(r) // present from the start, at 0
	}
	return m
}

// finished counts a choice that ended, with vLLM's finished_reason.
func (m *metrics) finished(reason string) {
	if reason == "cancelled" {
		reason = "abort"
	}
	m.success.WithLabelValues(reason).Inc()
}

// engineCollector reports the engine's Stats at scrape time.
type engineCollector struct {
	stats func() engine.Stats
	model string
}

var (
	descRunning       = engineDesc("vllm:num_requests_running", "Number of requests in model execution batches.")
	descWaiting       = engineDesc("vllm:num_requests_waiting", "Number of requests waiting to be processed.")
	descKVUsage       = engineDesc("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.")
	descPrefixQueries = engineDesc("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.")
	descPrefixHits    = engineDesc("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.")
	descPrompt        = engineDesc("vllm:prompt_tokens_total", "Number of prefill tokens processed.")
	descGeneration    = engineDesc("vllm:generation_tokens_total", "Number of generation tokens processed.")
	descPreemptions   = engineDesc("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.")
	descSteps         = engineDesc("joule_engine_steps_total", "Engine steps run (batched forward passes).")
	descBlocks        = engineDesc("joule_kv_cache_blocks", "KV-cache blocks in the pool.")
	descCacheConfig   = prometheus.NewDesc("vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
		[]string{"model_name", "block_size", "num_gpu_blocks"}, nil)
)

func engineDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"model_name"}, nil)
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRunning, descWaiting, descKVUsage, descPrefixQueries, descPrefixHits,
		descPrompt, descGeneration, descPreemptions, descSteps, descBlocks, descCacheConfig} {
		ch <- d
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, c.model)
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), c.model)
	}
	gauge(descRunning, float64(st.Running))
	gauge(descWaiting, float64(st.Waiting))
	gauge(descKVUsage, st.KVUsage)
	gauge(descBlocks, float64(st.NumBlocks))
	counter(descPrefixQueries, st.PrefixQueries)
	counter(descPrefixHits, st.PrefixHits)
	counter(descPrompt, st.PromptTokens)
	counter(descGeneration, st.GeneratedTokens)
	counter(descPreemptions, st.Preemptions)
	counter(descSteps, st.Steps)
	ch <- prometheus.MustNewConstMetric(descCacheConfig, prometheus.GaugeValue, 1,
		c.model, strconv.Itoa(st.BlockSize), strconv.Itoa(st.NumBlocks))
}
