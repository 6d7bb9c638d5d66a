//! Prometheus metrics of the server, the batcher and the job workers, all with the `ferrocr_`
//! prefix and registered in one [`Registry`] so that `GET /metrics` exports exactly these.
//!
//! Names and labels are part of the public contract (dashboards and our load tests read them):
//! `ferrocr_requests_total{route,status}` counts every HTTP response by route *template*
//! (`/v1/jobs/{id}`, not the concrete id), batch histograms are labelled `stage="page"|"line"`,
//! and `ferrocr_inferences_total / ferrocr_batch_executions_total` is the average batch size.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every metric ferrocr exports.
pub struct Metrics {
    registry: Registry,
    /// HTTP responses by route template and status code.
    pub requests_total: IntCounterVec,
    /// Wall time of HTTP requests by route template, seconds.
    pub request_duration: HistogramVec,
    /// Time items waited in a batcher queue before their batch ran, by stage, seconds.
    pub queue_wait: HistogramVec,
    /// Time per pipeline stage (decode, preprocess, layout, recognise, render), seconds.
    pub stage_duration: HistogramVec,
    /// Pages recognised.
    pub pages_total: IntCounter,
    /// Text lines recognised.
    pub lines_total: IntCounter,
    /// Items (pages or lines) per executed batch, by stage.
    pub batch_size: HistogramVec,
    /// Distinct requests whose items shared one executed batch, by stage.
    pub batch_requests: HistogramVec,
    /// Batch fill: items / configured maximum, by stage (0..1).
    pub batch_fill: HistogramVec,
    /// Items that went through a stage (inference count), by stage.
    pub inferences_total: IntCounterVec,
    /// Batches executed, by stage; inferences / executions = average batch size.
    pub batch_executions_total: IntCounterVec,
    /// Items waiting in each stage's queue.
    pub queue_depth: IntGaugeVec,
    /// Requests admitted and not yet answered.
    pub in_flight: IntGauge,
    /// Decoded page pixels held now under the process-wide pixel budget.
    pub pixels_in_flight: IntGauge,
    /// Work dropped before it ran, by stage and reason: `timeout` (the request's own deadline
    /// passed, whether or not its handler is still waiting) or `client_gone`.
    pub dropped_total: IntCounterVec,
    /// Requests refused by admission control, by reason (queue_full, client_limit).
    pub rejected_total: IntCounterVec,
    /// Constant 1, labelled with the compute backend (cpu/gpu) and adapter name.
    pub backend_info: IntGaugeVec,
    /// Constant 1, labelled with the model's name, parameter count and alphabet size.
    pub model_info: IntGaugeVec,
    /// Jobs per state (refreshed from the store).
    pub jobs: IntGaugeVec,
    /// Age of the oldest queued job, seconds.
    pub oldest_queued_job_age: prometheus::Gauge,
    /// Job wall time from first claim to terminal state, seconds, by outcome.
    pub job_duration: HistogramVec,
    /// Leases that expired and were re-claimed.
    pub lease_expiries_total: IntCounter,
    /// Writes refused because the writer's lease token was stale (fencing).
    pub fenced_writes_total: IntCounter,
    /// Webhook delivery attempts by outcome (delivered, retry, gave_up, refused).
    pub webhook_deliveries_total: IntCounterVec,
}

fn histogram(name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("valid histogram definition")
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter definition")
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("valid gauge definition")
}

/// Latency buckets from 1 ms to ~66 s.
fn seconds_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.001, 2.0, 17).expect("valid buckets")
}

/// Count buckets 1, 2, 4, ... 4096.
fn count_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(1.0, 2.0, 13).expect("valid buckets")
}

impl Metrics {
    /// Create and register every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let m = Metrics {
            requests_total: counter_vec(
                "ferrocr_requests_total",
                "HTTP responses by method, route template and status",
                &["method", "route", "status"],
            ),
            request_duration: histogram(
                "ferrocr_request_duration_seconds",
                "HTTP request wall time",
                &["method", "route"],
                seconds_buckets(),
            ),
            queue_wait: histogram(
                "ferrocr_queue_wait_seconds",
                "Time an item waited in a batcher queue",
                &["stage"],
                seconds_buckets(),
            ),
            stage_duration: histogram(
                "ferrocr_stage_duration_seconds",
                "Time per pipeline stage",
                &["stage"],
                seconds_buckets(),
            ),
            pages_total: IntCounter::new("ferrocr_pages_total", "Pages recognised")
                .expect("valid counter"),
            lines_total: IntCounter::new("ferrocr_lines_total", "Text lines recognised")
                .expect("valid counter"),
            batch_size: histogram(
                "ferrocr_batch_size",
                "Items per executed batch",
                &["stage"],
                count_buckets(),
            ),
            batch_requests: histogram(
                "ferrocr_batch_requests",
                "Distinct requests in one executed batch",
                &["stage"],
                count_buckets(),
            ),
            batch_fill: histogram(
                "ferrocr_batch_fill",
                "Items per batch over the configured maximum",
                &["stage"],
                prometheus::linear_buckets(0.1, 0.1, 10).expect("valid buckets"),
            ),
            inferences_total: counter_vec(
                "ferrocr_inferences_total",
                "Items processed by a batched stage",
                &["stage"],
            ),
            batch_executions_total: counter_vec(
                "ferrocr_batch_executions_total",
                "Batches executed by a batched stage",
                &["stage"],
            ),
            queue_depth: gauge_vec(
                "ferrocr_queue_depth",
                "Items waiting in a stage queue",
                &["stage"],
            ),
            in_flight: IntGauge::new("ferrocr_in_flight", "Admitted requests not yet answered")
                .expect("valid gauge"),
            pixels_in_flight: IntGauge::new(
                "ferrocr_pixels_in_flight",
                "Decoded page pixels held now under the process-wide pixel budget",
            )
            .expect("valid gauge"),
            dropped_total: counter_vec(
                "ferrocr_dropped_total",
                "Queued work dropped before it ran",
                &["stage", "reason"],
            ),
            rejected_total: counter_vec(
                "ferrocr_rejected_total",
                "Requests refused by admission control",
                &["reason"],
            ),
            backend_info: gauge_vec(
                "ferrocr_backend_info",
                "Compute backend in use (value 1)",
                &["backend", "adapter"],
            ),
            model_info: gauge_vec(
                "ferrocr_model_info",
                "Recognition model in use (value 1)",
                &["name", "description"],
            ),
            jobs: gauge_vec("ferrocr_jobs", "Jobs per state", &["state"]),
            oldest_queued_job_age: prometheus::Gauge::new(
                "ferrocr_oldest_queued_job_age_seconds",
                "Age of the oldest queued job",
            )
            .expect("valid gauge"),
            job_duration: histogram(
                "ferrocr_job_duration_seconds",
                "Job time from claim to terminal state",
                &["outcome"],
                seconds_buckets(),
            ),
            lease_expiries_total: IntCounter::new(
                "ferrocr_lease_expiries_total",
                "Job leases that expired and were re-claimed",
            )
            .expect("valid counter"),
            fenced_writes_total: IntCounter::new(
                "ferrocr_fenced_writes_total",
                "Writes refused because the lease token was stale",
            )
            .expect("valid counter"),
            webhook_deliveries_total: counter_vec(
                "ferrocr_webhook_deliveries_total",
                "Webhook delivery attempts by outcome",
                &["outcome"],
            ),
            registry,
        };
        m.register_all();
        m.touch_known_series();
        m
    }

    /// Create every documented labelled series of the counters at 0, so dashboards and alerts
    /// see them from the first scrape instead of only after the first event.
    fn touch_known_series(&self) {
        for reason in ["queue_full", "deadline", "cold", "client_limit"] {
            self.rejected_total.with_label_values(&[reason]);
        }
        for stage in ["page", "line"] {
            for reason in ["client_gone", "timeout"] {
                self.dropped_total.with_label_values(&[stage, reason]);
            }
        }
        for outcome in ["delivered", "retry", "gave_up"] {
            self.webhook_deliveries_total.with_label_values(&[outcome]);
        }
    }

    fn register_all(&self) {
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(self.requests_total.clone()),
            Box::new(self.request_duration.clone()),
            Box::new(self.queue_wait.clone()),
            Box::new(self.stage_duration.clone()),
            Box::new(self.pages_total.clone()),
            Box::new(self.lines_total.clone()),
            Box::new(self.batch_size.clone()),
            Box::new(self.batch_requests.clone()),
            Box::new(self.batch_fill.clone()),
            Box::new(self.inferences_total.clone()),
            Box::new(self.batch_executions_total.clone()),
            Box::new(self.queue_depth.clone()),
            Box::new(self.in_flight.clone()),
            Box::new(self.pixels_in_flight.clone()),
            Box::new(self.dropped_total.clone()),
            Box::new(self.rejected_total.clone()),
            Box::new(self.backend_info.clone()),
            Box::new(self.model_info.clone()),
            Box::new(self.jobs.clone()),
            Box::new(self.oldest_queued_job_age.clone()),
            Box::new(self.job_duration.clone()),
            Box::new(self.lease_expiries_total.clone()),
            Box::new(self.fenced_writes_total.clone()),
            Box::new(self.webhook_deliveries_total.clone()),
        ];
        for c in collectors {
            self.registry.register(c).expect("metric names are unique");
        }
        // The standard process_* series (CPU seconds, resident and virtual memory, open file
        // descriptors, start time), read from /proc at each scrape.
        #[cfg(target_os = "linux")]
        self.registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process metric names are unique");
    }

    /// Record one executed batch of `items` items from `requests` distinct requests.
    pub fn record_batch(&self, stage: &str, items: usize, requests: usize, max_items: usize) {
        self.batch_size
            .with_label_values(&[stage])
            .observe(items as f64);
        self.batch_requests
            .with_label_values(&[stage])
            .observe(requests as f64);
        self.batch_fill
            .with_label_values(&[stage])
            .observe((items as f64 / max_items.max(1) as f64).min(1.0));
        self.inferences_total
            .with_label_values(&[stage])
            .inc_by(items as u64);
        self.batch_executions_total
            .with_label_values(&[stage])
            .inc();
    }

    /// Record the duration of one pipeline stage, in milliseconds.
    pub fn observe_stage_ms(&self, stage: &str, ms: f64) {
        self.stage_duration
            .with_label_values(&[stage])
            .observe(ms / 1000.0);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let encoder = TextEncoder::new();
        if encoder.encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_pinned_names() {
        let m = Metrics::new();
        m.requests_total
            .with_label_values(&["POST", "/v1/ocr", "200"])
            .inc();
        m.record_batch("line", 10, 3, 64);
        let text = m.render();
        assert!(text.contains(
            "ferrocr_requests_total{method=\"POST\",route=\"/v1/ocr\",status=\"200\"} 1"
        ));
        assert!(text.contains("ferrocr_batch_requests_sum{stage=\"line\"} 3"));
        assert!(text.contains("ferrocr_batch_size_sum{stage=\"line\"} 10"));
        assert!(text.contains("ferrocr_inferences_total{stage=\"line\"} 10"));
        assert!(text.contains("ferrocr_batch_executions_total{stage=\"line\"} 1"));
    }

    #[test]
    fn documented_counters_exist_at_zero_from_the_start() {
        let text = Metrics::new().render();
        for series in [
            "ferrocr_rejected_total{reason=\"deadline\"} 0",
            "ferrocr_rejected_total{reason=\"queue_full\"} 0",
            "ferrocr_rejected_total{reason=\"cold\"} 0",
            "ferrocr_rejected_total{reason=\"client_limit\"} 0",
            "ferrocr_dropped_total{reason=\"client_gone\",stage=\"page\"} 0",
            "ferrocr_dropped_total{reason=\"timeout\",stage=\"line\"} 0",
            "ferrocr_webhook_deliveries_total{outcome=\"gave_up\"} 0",
        ] {
            assert!(text.contains(series), "missing {series}");
        }
        #[cfg(target_os = "linux")]
        for series in [
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
        ] {
            assert!(text.contains(series), "missing {series}");
        }
    }
}
