import Foundation
import Prometheus

/// The server's Prometheus metrics, served as text on the admin port's `/metrics`.
///
/// - `honeytrace_http_requests_total{route, status}`: requests answered, by route and status;
/// - `honeytrace_http_request_duration_seconds{route}`: request latency histogram;
/// - `honeytrace_queries_total{client}`: images answered per client;
/// - `honeytrace_rows_mixed_total{client}`, `honeytrace_rows_flipped_total{client}`: images the
///   defense mixed / flipped per client;
/// - `honeytrace_rejected_requests_total{code}`: refusals by error code;
/// - `honeytrace_batch_rows`, `honeytrace_batch_requests`: rows and requests per forward pass;
/// - `honeytrace_forward_duration_seconds`: one defended forward pass;
/// - `honeytrace_queued_rows`: rows waiting for the model.
///
/// The registry is the server's own (not the process-wide `MetricsSystem`), so several servers
/// can live in one process (tests, the load benchmark). Labelled collectors are created once
/// and cached; label values are bounded (routes are the known ones or `unknown`, clients come
/// from the clients file, codes from `APIError.Code`).
public final class ServerMetrics: @unchecked Sendable {
    public let registry: PrometheusCollectorRegistry
    private let batchRows: ValueHistogram
    private let batchRequests: ValueHistogram
    private let forwardDuration: DurationHistogram
    let queuedRows: Gauge

    private let lock = NSLock()
    private var requestCounters: [String: Counter] = [:]
    private var latencies: [String: DurationHistogram] = [:]
    private var clientCounters: [String: (queries: Counter, mixed: Counter, flipped: Counter)] = [:]
    private var rejections: [APIError.Code: Counter] = [:]

    private static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
    ]

    private static func name(_ metric: String, unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "honeytrace", metricName: metric, unitName: unit, helpText: help)
    }

    private static var requestsName: MetricNameDescriptor { name("http_requests", unit: "total", "HTTP requests answered, by route and status") }
    private static var latencyName: MetricNameDescriptor { name("http_request_duration", unit: "seconds", "HTTP request latency") }
    private static var queriesName: MetricNameDescriptor { name("queries", unit: "total", "Images answered, per client") }
    private static var mixedName: MetricNameDescriptor { name("rows_mixed", unit: "total", "Images whose logits the defense mixed, per client") }
    private static var flippedName: MetricNameDescriptor { name("rows_flipped", unit: "total", "Images the defense flipped, per client") }
    private static var rejectedName: MetricNameDescriptor { name("rejected_requests", unit: "total", "Requests refused, by error code") }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        let sizes: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
        batchRows = registry.makeValueHistogram(descriptor: Self.name("batch_rows", unit: "", "Rows per defended forward pass"),
                                                buckets: sizes)
        batchRequests = registry.makeValueHistogram(descriptor: Self.name("batch_requests", unit: "",
                                                                          "Requests answered by one defended forward pass"),
                                                    buckets: sizes)
        forwardDuration = registry.makeDurationHistogram(descriptor: Self.name("forward_duration", unit: "seconds",
                                                                               "Duration of one defended forward pass"),
                                                         buckets: Self.latencyBuckets)
        queuedRows = registry.makeGauge(descriptor: Self.name("queued_rows", unit: "", "Rows waiting for the model"))
    }

    func request(route: String, status: Int, duration: Duration) {
        let key = "\(route) \(status)"
        lock.lock()
        let counter: Counter
        if let c = requestCounters[key] { counter = c } else {
            counter = registry.makeCounter(descriptor: Self.requestsName, labels: [("route", route), ("status", String(status))])
            requestCounters[key] = counter
        }
        let histogram: DurationHistogram
        if let h = latencies[route] { histogram = h } else {
            histogram = registry.makeDurationHistogram(descriptor: Self.latencyName, labels: [("route", route)], buckets: Self.latencyBuckets)
            latencies[route] = histogram
        }
        lock.unlock()
        counter.increment()
        histogram.record(duration)
    }

    func answered(client: String, queries: Int, mixed: Int, flipped: Int) {
        lock.lock()
        let counters: (queries: Counter, mixed: Counter, flipped: Counter)
        if let c = clientCounters[client] { counters = c } else {
            counters = (registry.makeCounter(descriptor: Self.queriesName, labels: [("client", client)]),
                        registry.makeCounter(descriptor: Self.mixedName, labels: [("client", client)]),
                        registry.makeCounter(descriptor: Self.flippedName, labels: [("client", client)]))
            clientCounters[client] = counters
        }
        lock.unlock()
        counters.queries.increment(by: Int64(queries))
        counters.mixed.increment(by: Int64(mixed))
        counters.flipped.increment(by: Int64(flipped))
    }

    func rejected(code: APIError.Code) {
        lock.lock()
        let counter: Counter
        if let c = rejections[code] { counter = c } else {
            counter = registry.makeCounter(descriptor: Self.rejectedName, labels: [("code", code.rawValue)])
            rejections[code] = counter
        }
        lock.unlock()
        counter.increment()
    }

    func batch(_ report: InferenceBatcher.BatchReport) {
        batchRows.record(Double(report.rows))
        batchRequests.record(Double(report.requests))
        forwardDuration.record(.nanoseconds(Int64(report.seconds * 1e9)))
    }

    /// The metrics in Prometheus text format.
    public func exposition() -> String { registry.emitToString() }
}
