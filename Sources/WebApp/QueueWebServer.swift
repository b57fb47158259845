import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Media
import NIOCore
import ServiceLifecycle
import WorkQueue

/// `serve --queue postgres://…`: the same page and job API as `WebServer`, without a model. Uploads are
/// checked and moved to shared storage, jobs go to the queue split into chunks, and `stream-diffvsr
/// worker` processes anywhere run them; the page's progress comes from the queue (polled), whichever
/// worker runs the job. `/metrics` reports the queue in Prometheus's format. The live streaming socket
/// and the frame previews need a model in this process and are not offered.
public final class QueueWebServer: Sendable {
    public struct Settings: Sendable {
        public var chunkFrames: Int
        public var warmupFrames: Int
        /// How often an open progress stream reads the job's row.
        public var pollInterval: Duration = .milliseconds(500)

        public init(chunkFrames: Int, warmupFrames: Int) {
            self.chunkFrames = chunkFrames
            self.warmupFrames = warmupFrames
        }
    }

    public let configuration: ServerConfiguration
    let settings: Settings
    let queue: JobQueueBackend
    let storage: SharedStorage
    let uploads: UploadStore
    let metrics: QueueMetrics

    public init(configuration: ServerConfiguration, settings: Settings, queue: JobQueueBackend, storage: SharedStorage,
                tools: FFmpegTools, metrics: QueueMetrics = QueueMetrics()) throws {
        _ = try ChunkPlan.split(frameCount: 1, chunkFrames: settings.chunkFrames, warmupFrames: settings.warmupFrames)
        self.configuration = configuration
        self.settings = settings
        self.queue = queue
        self.storage = storage
        self.metrics = metrics
        // Uploads nobody started a job for, left by a previous run of this front.
        for stale in (try? FileManager.default.contentsOfDirectory(atPath: storage.incoming)) ?? [] where stale.hasPrefix("upload-") {
            try? FileManager.default.removeItem(atPath: (storage.incoming as NSString).appendingPathComponent(stale))
        }
        uploads = UploadStore(temporaryFolder: storage.incoming, maxBytes: configuration.maxUploadBytes,
                              inspector: VideoInspector(tools: tools, maxInputSide: configuration.maxInputSide))
    }

    public func makeApplication(logger: Logger? = nil) -> some ApplicationProtocol {
        let router = Router()
        addRoutes(to: router)
        return Application(router: router,
                           configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "stream-diffvsr"),
                           logger: logger)
    }

    func status(_ record: JobRecord) -> JobStatus {
        let job = record.job
        let finished = record.state == .finished
        let eta = record.secondsPerFrame.map { Double(max(0, job.frameCount - record.framesDone)) * $0 / Double(max(1, record.runningTasks)) }
        return JobStatus(id: job.id, state: JobStatus.State(rawValue: record.state.rawValue) ?? .failed, inputName: job.inputName,
                         inferenceSteps: job.inferenceSteps, quality: OutputQuality(rawValue: job.quality) ?? .standard,
                         queuePosition: record.queuePosition, framesDone: finished ? job.frameCount : record.framesDone,
                         frameCount: job.frameCount, secondsPerFrame: record.secondsPerFrame, etaSeconds: finished ? 0 : eta,
                         inputWidth: job.width, inputHeight: job.height, outputWidth: finished ? job.width * 4 : nil,
                         outputHeight: finished ? job.height * 4 : nil, warnings: [], message: record.message,
                         resultURL: finished ? "/api/jobs/\(job.id)/result" : nil)
    }

    private func record(_ id: String) async throws -> JobRecord {
        // Ids are ours (lower-case UUIDs); anything else is unknown without asking the database.
        guard UUID(uuidString: id) != nil, let record = try await queue.job(id.lowercased()) else { throw WebAppError.unknownJob(id: id) }
        return record
    }

    private func addRoutes(to router: Router<BasicRequestContext>) {
        router.add(middleware: ErrorMessageMiddleware())
        router.get("/") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: WebPage.html)))
        }
        router.get("/api/info") { [configuration] _, _ in
            try JSONResponse.make(ServerInfo(model: "\(configuration.modelID) (run by queue workers)", maxUploadBytes: configuration.maxUploadBytes,
                                             maxInputSide: configuration.maxInputSide,
                                             defaultInferenceSteps: configuration.defaultInferenceSteps,
                                             inferenceSteps: ServerConfiguration.inferenceStepRange))
        }
        router.get("/metrics") { [queue, metrics] _, _ in
            metrics.update(try await queue.depth())
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.post("/api/uploads") { [uploads] request, _ in
            let declared = request.headers[.contentLength].flatMap { Int($0) }
            let rawName = request.uri.queryParameters.get("name").map { String($0) }
                ?? request.headers[HTTPField.Name("X-File-Name")!]?.removingPercentEncoding ?? "video"
            let upload = try await uploads.receive(body: request.body, declaredLength: declared, fileName: rawName)
            return try JSONResponse.make(UploadReply(upload), status: .created)
        }
        router.get("/api/uploads/:id/preview") { [uploads] request, context in
            let upload = try uploads.upload(try context.parameters.require("id"))
            return try await FileResponse.make(path: upload.previewPath, contentType: "video/mp4", request: request, context: context)
        }
        router.delete("/api/uploads/:id") { [uploads] _, context in
            try uploads.discard(try context.parameters.require("id"))
            return Response(status: .noContent)
        }
        router.post("/api/jobs") { [self] request, _ in
            let body = try await request.body.collect(upTo: 64 * 1024)
            guard let start = try? JSONDecoder().decode(StartJobRequest.self, from: Data(buffer: body)) else {
                throw WebAppError.invalidRequest("expected JSON {\"upload\": \"<id from POST /api/uploads>\", \"inferenceSteps\": <1-50>, \"quality\": \"standard|high|small\"}")
            }
            let steps = start.inferenceSteps ?? configuration.defaultInferenceSteps
            guard ServerConfiguration.inferenceStepRange.contains(steps) else {
                throw WebAppError.invalidSteps(found: steps, range: ServerConfiguration.inferenceStepRange)
            }
            let quality = try start.quality.map { name in
                guard let quality = OutputQuality(rawValue: name) else {
                    throw WebAppError.invalidRequest("quality must be one of \(OutputQuality.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(name)\"")
                }
                return quality
            } ?? .standard
            let record = try await submit(try uploads.claim(start.upload), steps: steps, quality: quality)
            return try JSONResponse.make(status(record), status: .accepted)
        }
        router.get("/api/jobs/:id") { [self] _, context in
            try JSONResponse.make(status(try await record(try context.parameters.require("id"))))
        }
        router.get("/api/jobs/:id/events") { [self] _, context in
            let first = try await record(try context.parameters.require("id"))
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                let encoder = JSONEncoder()
                let shutdown = ShutdownFlag()
                try await withGracefulShutdownHandler {
                    var current = first
                    var sent: JobStatus?
                    while true {
                        let update = self.status(current)
                        if update != sent {
                            let json = String(decoding: try encoder.encode(update), as: UTF8.self)
                            try await writer.write(ByteBuffer(string: "event: status\ndata: \(json)\n\n"))
                            sent = update
                        }
                        if update.state.isFinal || shutdown.isSet { break }
                        try await Task.sleep(for: self.settings.pollInterval)
                        current = try await self.record(first.job.id)
                    }
                } onGracefulShutdown: {
                    shutdown.set()
                }
                try await writer.finish(nil)
            })
        }
        router.post("/api/jobs/:id/cancel") { [self] _, context in
            let current = try await record(try context.parameters.require("id"))
            _ = try await queue.cancel(current.job.id)
            return try JSONResponse.make(status(try await record(current.job.id)), status: .accepted)
        }
        router.get("/api/jobs/:id/frames/:kind") { _, _ in
            // The frames are computed by workers elsewhere; the page shows progress without previews.
            Response(status: .noContent)
        }
        router.get("/api/jobs/:id/result") { [self] request, context in
            let current = try await record(try context.parameters.require("id"))
            guard current.state == .finished else { throw WebAppError.resultNotReady(id: current.job.id) }
            let path = try storage.resolve(current.job.outputPath)
            var response = try await FileResponse.make(path: path, contentType: "video/mp4", request: request, context: context)
            if request.uri.queryParameters.get("download") != nil {
                response.headers[.contentDisposition] = "attachment; filename=\"\(current.job.downloadName)\""
            }
            return response
        }
    }

    /// Moves the upload into the job's folder on shared storage and queues the job.
    func submit(_ upload: Upload, steps: Int, quality: OutputQuality) async throws -> JobRecord {
        let id = UUID().uuidString.lowercased()
        let stem = UploadStore.safeStem(upload.displayName)
        let jobFolder = storage.jobFolder(id)
        let sourcePath = "\(jobFolder)/\((upload.sourcePath as NSString).lastPathComponent)"
        do {
            try FileManager.default.moveItem(atPath: upload.folder, toPath: try storage.resolve(jobFolder))
        } catch {
            try? FileManager.default.removeItem(atPath: upload.folder)
            throw error
        }
        let job = NewJob(id: id, inputName: upload.displayName, sourcePath: sourcePath, outputPath: "outputs/\(stem)-\(id.prefix(8))_x4.mp4",
                         downloadName: "\(stem)_x4.mp4", inferenceSteps: steps, quality: quality.rawValue,
                         frameCount: upload.info.frameCount, width: upload.info.width, height: upload.info.height,
                         chunkFrames: settings.chunkFrames, warmupFrames: settings.warmupFrames)
        do {
            return try await queue.submit(job)
        } catch {
            try? FileManager.default.removeItem(atPath: try storage.resolve(jobFolder))
            throw error
        }
    }
}

private final class ShutdownFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
