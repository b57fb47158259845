import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import WorkQueue

/// A worker's own HTTP listener: `/metrics` (its frames, tasks and job latencies in Prometheus's
/// format) and `/healthz`.
public enum MetricsEndpoint {
    public static func application(metrics: QueueMetrics, host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.get("/healthz") { _, _ in "ok\n" }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "stream-diffvsr-worker"),
                           logger: logger)
    }
}
